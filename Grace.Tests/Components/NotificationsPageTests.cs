using Bunit;
using Grace.Data.Entities;
using Grace.Engine.Missions;
using Grace.Engine.Notifications.Outbox;
using Grace.Web.Components.Pages.Missions;
using Grace.Web.Components.Pages.Notifications;
using Microsoft.EntityFrameworkCore;

namespace Grace.Tests.Components;

public sealed class NotificationsPageTests : GraceComponentTest
{
    private async Task<Notification> SeedRowAsync(NotificationStatus status, string? error, int attempts)
    {
        await using var db = Factory.CreateDbContext();
        var now = DateTimeOffset.UtcNow;
        var row = new Notification
        {
            Id = Guid.NewGuid(), Kind = NotificationKind.MissionFailed, Channel = "ops-hook", DedupKey = $"k-{Guid.NewGuid()}",
            Payload = new NotificationContent { Kind = NotificationKind.MissionFailed, Title = "t", Text = "x", Link = "http://localhost/missions/1" }.ToJson(),
            Status = status, Attempts = attempts, LastError = error, NextAttemptAt = now, CreatedAt = now,
            DeliveredAt = status == NotificationStatus.Delivered ? now : null,
        };
        db.Notifications.Add(row);
        await db.SaveChangesAsync();
        return row;
    }

    [Fact]
    public async Task An_admin_sees_delivered_failing_and_given_up_rows_and_retries_one_and_it_is_audited()
    {
        await SeedRowAsync(NotificationStatus.Delivered, null, 1);
        await SeedRowAsync(NotificationStatus.Failing, "Webhook 'ops-hook' answered 503 Service Unavailable", 2);
        var given = await SeedRowAsync(NotificationStatus.GivenUp, "Webhook 'ops-hook' could not be reached: Connection refused", 8);
        SignIn("ada", GraceRoles.Admin);
        var cut = Render<Notifications>();
        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll("tr.notification-row").Count));
        Assert.Contains("Connection refused", cut.Find("tr.status-GivenUp").TextContent);
        Assert.Contains("503", cut.Find("tr.status-Failing .notification-error").TextContent);
        Assert.Empty(cut.FindAll("tr.status-Delivered .retry-notification"));

        cut.Find("tr.status-GivenUp .retry-notification").Click();
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("tr.status-Pending")));
        await using var db = Factory.CreateDbContext();
        var row = await db.Notifications.AsNoTracking().SingleAsync(n => n.Id == given.Id);
        Assert.Equal((NotificationStatus.Pending, 0), (row.Status, row.Attempts));
        var audit = await db.AuditEntries.AsNoTracking().SingleAsync(a => a.Action == "notification.retry");
        Assert.Equal(("ada", $"notification/{given.Id}"), (audit.Actor, audit.Subject));
    }

    [Fact]
    public async Task The_page_follows_deliveries_live()
    {
        var row = await SeedRowAsync(NotificationStatus.Failing, "answered 500", 1);
        SignIn("ada", GraceRoles.Admin);
        var cut = Render<Notifications>();
        cut.WaitForAssertion(() => cut.Find("tr.status-Failing"));
        await using (var db = Factory.CreateDbContext())
        {
            await db.Notifications.Where(n => n.Id == row.Id).ExecuteUpdateAsync(s => s.SetProperty(n => n.Status, NotificationStatus.Delivered).SetProperty(n => n.Attempts, 2));
        }

        Notifier.Publish(new NotificationChanged(DateTimeOffset.UtcNow, row.Id, row.Kind, row.Channel, NotificationStatus.Delivered, 2));
        cut.WaitForAssertion(() => Assert.Equal("2", cut.Find("tr.status-Delivered .notification-attempts").TextContent.Trim()));
    }

    [Fact]
    public async Task The_mission_page_shows_who_decided_and_from_where()
    {
        var mission = await SeedMissionAsync(state: MissionState.Approved, requiredApprovals: 1);
        await using (var db = Factory.CreateDbContext())
        {
            var approval = await db.Approvals.SingleAsync(a => a.MissionId == mission.Id);
            approval.Status = ApprovalStatus.Approved;
            db.ApprovalDecisions.Add(new ApprovalDecision { Id = Guid.NewGuid(), ApprovalId = approval.Id, UserName = "alice", Verdict = ApprovalVerdict.Approve, At = DateTimeOffset.UtcNow, Via = DecisionVia.Slack });
            await db.SaveChangesAsync();
        }

        var cut = Render<MissionDetail>(p => p.Add(c => c.Id, mission.Id));
        cut.WaitForAssertion(() => Assert.Contains("approved by alice via Slack", cut.Find(".approval-decision").TextContent));
        Assert.Contains("Approved", cut.Find("#approval-status").TextContent);
    }
}
