using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Polly;

namespace Grace.Engine.Notifications.Outbox;

public static class NotificationServiceCollectionExtensions
{
    /// <summary>
    /// The notification outbox: options validated at start, the router, the channels (webhook,
    /// Slack, Teams, mail), Alertmanager silences, the delivering background service, and the
    /// Admins' view.
    /// </summary>
    public static IServiceCollection AddGraceNotifications(this IServiceCollection services)
    {
        services.AddOptions<NotificationOptions>().BindConfiguration(NotificationOptions.Section).ValidateOnStart();
        services.AddOptions<AlertmanagerOptions>().BindConfiguration(AlertmanagerOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<NotificationOptions>, NotificationOptionsValidator>();
        services.AddHttpClient(ChannelHttp.ClientName, c => c.Timeout = Timeout.InfiniteTimeSpan);
        services.AddResiliencePipeline(NotificationDispatcher.PipelineKey, (builder, context) =>
            builder.AddTimeout(TimeSpan.FromSeconds(context.ServiceProvider.GetRequiredService<IOptions<NotificationOptions>>().Value.TimeoutSeconds)));
        services.AddSingleton<NotificationRouter>();
        services.AddSingleton<NotificationOutbox>();
        services.AddSingleton<INotificationChannel, WebhookChannel>();
        services.AddSingleton<INotificationChannel, SlackChannel>();
        services.AddSingleton<INotificationChannel, TeamsChannel>();
        services.AddSingleton<INotificationChannel, MailChannel>();
        services.AddSingleton<AlertmanagerSilencer>();
        services.AddSingleton<NotificationAdmin>();
        services.AddSingleton<NotificationDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<NotificationDispatcher>());
        return services;
    }
}
