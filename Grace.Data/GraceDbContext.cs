using Grace.Data.Entities;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Grace.Data;

/// <summary>
/// Grace's one model. Each provider has its own subclass so that each keeps its own migrations
/// (<c>Migrations/&lt;Provider&gt;/</c>); code depends only on this type.
/// </summary>
public abstract class GraceDbContext(DbContextOptions options) : IdentityDbContext<GraceUser>(options), Microsoft.AspNetCore.DataProtection.EntityFrameworkCore.IDataProtectionKeyContext
{
    /// <summary>The keys that protect sign-in cookies and form tokens, shared by every instance so a session works on any of them.</summary>
    public DbSet<Microsoft.AspNetCore.DataProtection.EntityFrameworkCore.DataProtectionKey> DataProtectionKeys => Set<Microsoft.AspNetCore.DataProtection.EntityFrameworkCore.DataProtectionKey>();

    public DbSet<Incident> Incidents => Set<Incident>();
    public DbSet<Mission> Missions => Set<Mission>();
    public DbSet<MissionEvent> MissionEvents => Set<MissionEvent>();
    public DbSet<ActionContract> Contracts => Set<ActionContract>();
    public DbSet<Snapshot> Snapshots => Set<Snapshot>();
    public DbSet<Approval> Approvals => Set<Approval>();
    public DbSet<ApprovalDecision> ApprovalDecisions => Set<ApprovalDecision>();
    public DbSet<BenchmarkRun> BenchmarkRuns => Set<BenchmarkRun>();
    public DbSet<OutcomeRecord> Outcomes => Set<OutcomeRecord>();
    public DbSet<PlaybookStatistics> PlaybookStatistics => Set<PlaybookStatistics>();
    public DbSet<AuditEntry> AuditEntries => Set<AuditEntry>();
    public DbSet<EngineSetting> EngineSettings => Set<EngineSetting>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<TargetFence> TargetFences => Set<TargetFence>();
    public DbSet<ClusterMember> ClusterMembers => Set<ClusterMember>();
    public DbSet<ClusterVersion> ClusterVersions => Set<ClusterVersion>();
    public DbSet<Notification> Notifications => Set<Notification>();
    public DbSet<IncidentEvent> IncidentEvents => Set<IncidentEvent>();
    public DbSet<MissionStep> MissionSteps => Set<MissionStep>();
    public DbSet<PatternSuggestion> PatternSuggestions => Set<PatternSuggestion>();
    public DbSet<TierSuggestion> TierSuggestions => Set<TierSuggestion>();

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);

        builder.Entity<Incident>(e =>
        {
            e.HasIndex(i => i.Fingerprint).IsUnique();
            e.HasIndex(i => new { i.Status, i.LastSeenAt });
            e.HasIndex(i => i.PlanPending);
            e.Property(i => i.Fingerprint).HasMaxLength(64);
            e.Property(i => i.Source).HasMaxLength(ColumnLimits.Source);
            e.Property(i => i.ExceptionType).HasMaxLength(ColumnLimits.ExceptionType);
            e.Property(i => i.Template).HasMaxLength(ColumnLimits.Template);
            e.Property(i => i.SampleMessage).HasMaxLength(ColumnLimits.Text);
            e.Property(i => i.PatternKey).HasMaxLength(ColumnLimits.Key);
            e.Property(i => i.Target).HasMaxLength(ColumnLimits.Key);
            e.Property(i => i.Labels).HasMaxLength(ColumnLimits.Labels);
            e.Property(i => i.OpenedBy).HasMaxLength(ColumnLimits.UserName);
            e.Property(i => i.NeedsHumanReason).HasMaxLength(ColumnLimits.ShortText);
            e.Property(i => i.NextPlaybookKey).HasMaxLength(ColumnLimits.Key);
            e.Property(i => i.AcknowledgedBy).HasMaxLength(ColumnLimits.UserName);
            e.Property(i => i.AssignedTo).HasMaxLength(ColumnLimits.UserName);
            // The sweep's query: rungs due.
            e.HasIndex(i => i.RetryAt);
        });

        builder.Entity<PatternSuggestion>(e =>
        {
            // Not a foreign key: the seed incident may be deleted by retention, the suggestion stays.
            e.Property(p => p.Id).ValueGeneratedNever();
            e.HasIndex(p => new { p.Status, p.SignalCount });
            e.Property(p => p.Template).HasMaxLength(ColumnLimits.Template);
            e.Property(p => p.MessageRegex).HasMaxLength(PatternSuggestion.RegexMaxLength);
            e.Property(p => p.Source).HasMaxLength(ColumnLimits.Source);
            e.Property(p => p.ExceptionType).HasMaxLength(ColumnLimits.ExceptionType);
            e.Property(p => p.Samples).HasMaxLength(ColumnLimits.Parameters);
            e.Property(p => p.CandidatePlaybooks).HasMaxLength(ColumnLimits.Text);
            e.Property(p => p.DismissedBy).HasMaxLength(ColumnLimits.UserName);
            e.Property(p => p.DismissReason).HasMaxLength(ColumnLimits.ShortText);
        });

        builder.Entity<IncidentEvent>(e =>
        {
            e.HasIndex(ev => new { ev.IncidentId, ev.Id });
            e.HasOne<Incident>().WithMany().HasForeignKey(ev => ev.IncidentId).OnDelete(DeleteBehavior.Cascade);
            e.Property(ev => ev.Actor).HasMaxLength(IncidentEvent.ActorMaxLength);
            e.Property(ev => ev.Message).HasMaxLength(IncidentEvent.MessageMaxLength);
            e.Property(ev => ev.PlaybookKey).HasMaxLength(ColumnLimits.Key);
        });

        builder.Entity<MissionStep>(e =>
        {
            e.HasIndex(s => new { s.MissionId, s.Index }).IsUnique();
            e.Property(s => s.Name).HasMaxLength(ColumnLimits.Key);
            e.Property(s => s.Action).HasMaxLength(ColumnLimits.Key);
            e.Property(s => s.Target).HasMaxLength(ColumnLimits.Key);
            e.Property(s => s.Parameters).HasMaxLength(ColumnLimits.Parameters);
            e.Property(s => s.Probe).HasMaxLength(ColumnLimits.Key);
            e.Property(s => s.ProbeTarget).HasMaxLength(ColumnLimits.Key);
            e.Property(s => s.ProbeParameters).HasMaxLength(ColumnLimits.ProbeParameters);
            e.Property(s => s.Message).HasMaxLength(ColumnLimits.ShortText);
        });

        builder.Entity<Mission>(e =>
        {
            e.HasIndex(m => new { m.State, m.UpdatedAt });
            e.HasIndex(m => new { m.PlaybookKey, m.Target, m.ExecutedAt });
            e.HasIndex(m => m.IncidentId);
            e.HasIndex(m => m.CreatedAt);
            // The gate's hourly cap counts every mission executed in the last hour, on each mission's way to its action.
            e.HasIndex(m => m.ExecutedAt);
            // The sweep's query: shadow recordings still waiting for people's verdict.
            e.HasIndex(m => m.ShadowVerdict);
            e.Property(m => m.PatternKey).HasMaxLength(ColumnLimits.Key);
            e.Property(m => m.PlaybookKey).HasMaxLength(ColumnLimits.Key);
            e.Property(m => m.Action).HasMaxLength(ColumnLimits.Key);
            e.Property(m => m.Target).HasMaxLength(ColumnLimits.Key);
            e.Property(m => m.Parameters).HasMaxLength(ColumnLimits.Parameters);
            e.Property(m => m.RequestedBy).HasMaxLength(ColumnLimits.UserName);
            e.Property(m => m.StatusReason).HasMaxLength(ColumnLimits.ShortText);
            e.Property(m => m.Instance).HasMaxLength(ColumnLimits.InstanceName);
            e.Property(m => m.DismissedBy).HasMaxLength(ColumnLimits.UserName);
            e.Property(m => m.TraceParent).HasMaxLength(64);
            e.Property(m => m.Version).IsConcurrencyToken();
            e.HasOne(m => m.Incident).WithMany().HasForeignKey(m => m.IncidentId).OnDelete(DeleteBehavior.Restrict);
            e.HasOne(m => m.Contract).WithOne().HasForeignKey<ActionContract>(c => c.MissionId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne(m => m.Approval).WithOne().HasForeignKey<Approval>(a => a.MissionId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(m => m.Events).WithOne().HasForeignKey(ev => ev.MissionId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(m => m.Snapshots).WithOne().HasForeignKey(s => s.MissionId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(m => m.Steps).WithOne().HasForeignKey(s => s.MissionId).OnDelete(DeleteBehavior.Cascade);
        });

        builder.Entity<MissionEvent>(e =>
        {
            e.HasIndex(ev => new { ev.MissionId, ev.Id });
            e.HasIndex(ev => ev.IncidentId);
            e.Property(ev => ev.Kind).HasMaxLength(64);
            e.Property(ev => ev.Actor).HasMaxLength(ColumnLimits.UserName);
            e.Property(ev => ev.Message).HasMaxLength(ColumnLimits.Text);
        });

        builder.Entity<ActionContract>(e =>
        {
            e.Property(c => c.Probe).HasMaxLength(ColumnLimits.Key);
            e.Property(c => c.Target).HasMaxLength(ColumnLimits.Key);
            e.Property(c => c.ProbeParameters).HasMaxLength(ColumnLimits.ProbeParameters);
            e.Property(c => c.Description).HasMaxLength(ColumnLimits.Description);
        });

        builder.Entity<Snapshot>(e =>
        {
            e.Property(s => s.Executor).HasMaxLength(ColumnLimits.Key);
            e.Property(s => s.Target).HasMaxLength(ColumnLimits.Key);
            e.Property(s => s.Purpose).HasMaxLength(32);
            e.Property(s => s.Summary).HasMaxLength(ColumnLimits.ShortText);
        });

        builder.Entity<Approval>(e =>
        {
            e.HasIndex(a => new { a.Status, a.ExpiresAt });
            e.Property(a => a.RequestedBy).HasMaxLength(ColumnLimits.UserName);
            e.Property(a => a.Version).IsConcurrencyToken();
            e.HasMany(a => a.Decisions).WithOne().HasForeignKey(d => d.ApprovalId).OnDelete(DeleteBehavior.Cascade);
        });

        builder.Entity<ApprovalDecision>(e =>
        {
            // One verdict per person per approval: distinct approvers are enforced by the database too.
            e.HasIndex(d => new { d.ApprovalId, d.UserName }).IsUnique();
            e.Property(d => d.UserName).HasMaxLength(ColumnLimits.UserName);
            e.Property(d => d.Reason).HasMaxLength(ColumnLimits.ShortText);
        });

        builder.Entity<Notification>(e =>
        {
            e.HasIndex(n => n.DedupKey).IsUnique();
            // The dispatcher's query: due rows by status and time.
            e.HasIndex(n => new { n.Status, n.NextAttemptAt });
            e.HasIndex(n => n.MissionId);
            e.HasIndex(n => n.CreatedAt);
            e.Property(n => n.Channel).HasMaxLength(Notification.ChannelMaxLength);
            e.Property(n => n.DedupKey).HasMaxLength(Notification.DedupKeyMaxLength);
            e.Property(n => n.Payload).HasMaxLength(Notification.PayloadMaxLength);
            e.Property(n => n.LastError).HasMaxLength(Notification.LastErrorMaxLength);
            e.Property(n => n.LeaseOwner).HasMaxLength(Notification.LeaseOwnerMaxLength);
            e.Property(n => n.ExternalId).HasMaxLength(Notification.ExternalIdMaxLength);
        });

        builder.Entity<BenchmarkRun>(e =>
        {
            e.HasIndex(b => b.MissionId);
            e.Property(b => b.Benchmark).HasMaxLength(ColumnLimits.Key);
            e.Property(b => b.Target).HasMaxLength(ColumnLimits.Key);
        });

        builder.Entity<OutcomeRecord>(e =>
        {
            e.HasIndex(o => o.At);
            e.HasIndex(o => o.MissionId).IsUnique();
            e.Property(o => o.PatternKey).HasMaxLength(ColumnLimits.Key);
            e.Property(o => o.PlaybookKey).HasMaxLength(ColumnLimits.Key);
            e.Property(o => o.Target).HasMaxLength(ColumnLimits.Key);
            e.Property(o => o.FailedStep).HasMaxLength(160);
        });

        builder.Entity<PlaybookStatistics>(e =>
        {
            e.HasKey(s => new { s.PatternKey, s.PlaybookKey });
            e.Property(s => s.PatternKey).HasMaxLength(ColumnLimits.Key);
            e.Property(s => s.PlaybookKey).HasMaxLength(ColumnLimits.Key);
            e.Property(s => s.Version).IsConcurrencyToken();
        });

        builder.Entity<AuditEntry>(e =>
        {
            e.HasIndex(a => a.At);
            e.Property(a => a.Actor).HasMaxLength(ColumnLimits.UserName);
            e.Property(a => a.Action).HasMaxLength(ColumnLimits.AuditAction);
            e.Property(a => a.Subject).HasMaxLength(ColumnLimits.AuditSubject);
            e.Property(a => a.Detail).HasMaxLength(ColumnLimits.Text);
            e.Property(a => a.RemoteAddress).HasMaxLength(ColumnLimits.RemoteAddress);
        });

        builder.Entity<ApiKey>(e =>
        {
            e.HasIndex(k => k.Prefix).IsUnique();
            e.Property(k => k.Name).HasMaxLength(ColumnLimits.ApiKeyName);
            e.Property(k => k.Prefix).HasMaxLength(32);
            // The ApiKeyScopes migrations give keys made before scopes existed every ingestion scope (default 7), so their senders keep working.
            e.Property(k => k.Hash).HasMaxLength(64);
            e.Property(k => k.CreatedBy).HasMaxLength(ColumnLimits.UserName);
            e.Property(k => k.RevokedBy).HasMaxLength(ColumnLimits.UserName);
        });

        builder.Entity<TargetFence>(e =>
        {
            e.HasKey(f => f.Target);
            e.Property(f => f.Target).HasMaxLength(ColumnLimits.Key);
            e.Property(f => f.Version).IsConcurrencyToken();
        });

        builder.Entity<ClusterMember>(e =>
        {
            e.HasKey(m => new { m.ClusterId, m.Address });
            e.Property(m => m.ClusterId).HasMaxLength(ColumnLimits.ClusterId);
            e.Property(m => m.Address).HasMaxLength(ColumnLimits.SiloAddress);
            e.Property(m => m.SiloName).HasMaxLength(ColumnLimits.InstanceName);
            e.Property(m => m.HostName).HasMaxLength(256);
            e.Property(m => m.Etag).HasMaxLength(64);
            e.Property(m => m.Entry).HasMaxLength(ColumnLimits.MembershipEntry);
        });

        builder.Entity<ClusterVersion>(e =>
        {
            e.HasKey(v => v.ClusterId);
            e.Property(v => v.ClusterId).HasMaxLength(ColumnLimits.ClusterId);
            e.Property(v => v.Etag).HasMaxLength(64).IsConcurrencyToken();
        });

        builder.Entity<TierSuggestion>(e =>
        {
            e.HasIndex(t => new { t.PlaybookKey, t.Status });
            e.Property(t => t.PlaybookKey).HasMaxLength(ColumnLimits.Key);
            e.Property(t => t.DecidedBy).HasMaxLength(ColumnLimits.UserName);
            e.Property(t => t.Reason).HasMaxLength(ColumnLimits.ShortText);
            e.Property(t => t.Version).IsConcurrencyToken();
        });

        builder.Entity<EngineSetting>(e =>
        {
            e.HasKey(s => s.Key);
            e.Property(s => s.Key).HasMaxLength(ColumnLimits.Key);
            e.Property(s => s.Value).HasMaxLength(ColumnLimits.Text);
            e.Property(s => s.UpdatedBy).HasMaxLength(ColumnLimits.UserName);
        });
    }

    public override int SaveChanges(bool acceptAllChangesOnSuccess)
    {
        StampVersions();
        return base.SaveChanges(acceptAllChangesOnSuccess);
    }

    public override Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        StampVersions();
        return base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    // A new version on every write turns a lost update into a DbUpdateConcurrencyException,
    // the same way on all three providers (SQLite has no rowversion).
    private void StampVersions()
    {
        foreach (var entry in ChangeTracker.Entries<IVersioned>())
        {
            if (entry.State is EntityState.Added or EntityState.Modified)
            {
                entry.Entity.Version = Guid.NewGuid();
            }
        }
    }
}
