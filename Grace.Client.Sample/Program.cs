using System.Globalization;
using Microsoft.Extensions.Configuration;
using Grace.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Events;

// A service using Grace.Client the way the README says, configured from GraceClient__* variables.
// Commands on stdin: "errors N" logs N errors, "stats" prints the shipper's counts, "exit" stops
// the host (which flushes). Argument "serilog" uses the Serilog sink instead of the ILoggerProvider.
var serilog = args.Contains("serilog");
var builder = Host.CreateApplicationBuilder(args);
builder.Logging.ClearProviders();
GraceSink? sink = null;
if (serilog)
{
    var options = new GraceClientOptions();
    builder.Configuration.GetSection(GraceClientOptions.Section).Bind(options);
    options.Diagnostics = message => Console.WriteLine($"diagnostic: {message}");
    sink = new GraceSink(new GraceShipper(options), ownsShipper: true);
    Log.Logger = new LoggerConfiguration().WriteTo.Sink(sink, LogEventLevel.Error).CreateLogger();
}
else
{
    builder.Logging.AddGraceClient(o => o.Diagnostics = message => Console.WriteLine($"diagnostic: {message}"));
}

using var host = builder.Build();
await host.StartAsync();
var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Sample.Orders");
GraceShipper Shipper() => sink?.Shipper ?? host.Services.GetServices<ILoggerProvider>().OfType<GraceLoggerProvider>().Single().Shipper;
var serilogOrders = Log.ForContext(Serilog.Core.Constants.SourceContextPropertyName, "Sample.Orders");
var next = 0;
Console.WriteLine("ready");
while (Console.ReadLine() is { } line)
{
    var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    switch (words.FirstOrDefault())
    {
        case "errors":
            for (var i = 0; i < int.Parse(words[1], CultureInfo.InvariantCulture); i++, next++)
            {
                var error = new InvalidOperationException($"Stock service answered 503 for order {next}");
                if (serilog)
                {
                    serilogOrders.Error(error, "Reserving stock for order {OrderId} failed", next);
                }
                else
                {
                    logger.LogError(error, "Reserving stock for order {OrderId} failed", next);
                }

                logger.LogInformation("Order {OrderId} is only information and never leaves", next);
            }

            Console.WriteLine($"logged {next}");
            break;
        case "stats":
            var s = Shipper().Statistics;
            Console.WriteLine($"stats sent={s.Sent} dropped={s.Dropped} refused={s.Refused} buffered={s.Buffered}");
            break;
        case "exit":
            var shipper = Shipper();
            if (sink is not null)
            {
                await Log.CloseAndFlushAsync();
                await sink.DisposeAsync();
            }

            await host.StopAsync();
            host.Dispose();
            var f = shipper.Statistics;
            Console.WriteLine($"final sent={f.Sent} dropped={f.Dropped} refused={f.Refused} buffered={f.Buffered}");
            return;
    }
}
