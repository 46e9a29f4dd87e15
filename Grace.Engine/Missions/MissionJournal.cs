using System.Text.Json;
using Grace.Data;
using Grace.Data.Entities;
using Grace.Engine.Notifications;
using Outbox = Grace.Engine.Notifications.Outbox;

namespace Grace.Engine.Missions;

/// <summary>
/// Writes the timeline: every transition appends a <see cref="MissionEvent"/> to the same unit of
/// work as the state change, and the typed event is published only after the commit.
/// </summary>
public sealed class MissionJournal(TimeProvider time, IPipelineNotifier notifier, Outbox.NotificationOutbox? outbox = null, Telemetry.GraceMetrics? metrics = null)
{
    private Telemetry.GraceMetrics? Metrics => metrics;
    private TimeProvider Time => time;
    private IPipelineNotifier Notifier => notifier;
    private Outbox.NotificationOutbox? Outbox => outbox;

    public Entry Begin(GraceDbContext db, Mission mission) => new(this, db, mission);

    public sealed class Entry(MissionJournal journal, GraceDbContext db, Mission mission)
    {
        private readonly List<MissionEvent> _events = [];
        private readonly List<PipelineEvent> _extra = [];
        private readonly List<PipelineEvent> _ifItGoesOn = [];
        private readonly List<(MissionState State, string Message)> _transitions = [];
        // Stages that ended in this unit of work: their spans and durations are written after the commit.
        private readonly List<(PipelineStage Stage, DateTimeOffset Start, DateTimeOffset End)> _endedStages = [];
        private readonly List<MissionState> _entered = [];

        public Mission Mission => mission;

        /// <summary>Adds a timeline line and, when given, moves the mission to a new state.</summary>
        public MissionEvent Record(PipelineStage stage, string kind, string message, MissionState? state = null, object? data = null, string actor = Actor.EngineName)
        {
            // Floored to what the database keeps: this stage's start is read back from storage when its
            // span is written, and must not come back earlier than the previous stage's in-memory start.
            var now = StoredTime.Floor(journal.Time.GetUtcNow());
            if (stage != mission.Stage)
            {
                // The stage the mission was in ends here; its span starts where the stage did.
                _endedStages.Add((mission.Stage, StoredTime.Floor(mission.StageStartedAt ?? mission.CreatedAt), now));
                mission.StageStartedAt = now;
            }
            else
            {
                mission.StageStartedAt ??= now;
            }

            if (state is { } s)
            {
                _transitions.Add((s, message));
                _entered.Add(s);
                mission.State = s;
                if (s.IsTerminal())
                {
                    mission.CompletedAt = now;
                }
            }

            mission.Stage = stage;
            mission.UpdatedAt = now;
            var ev = new MissionEvent
            {
                MissionId = mission.Id,
                Stage = stage,
                Kind = kind,
                At = now,
                Actor = actor,
                Message = message.Length > 4000 ? message[..4000] : message,
                Data = data switch { null => null, string text => text, _ => JsonSerializer.Serialize(data) },
            };
            db.MissionEvents.Add(ev);
            _events.Add(ev);
            return ev;
        }

        /// <summary>After the commit: the ended stages' spans and durations, and the states entered.</summary>
        private void WriteTelemetry()
        {
            var now = journal.Time.GetUtcNow();
            foreach (var (stage, start, end) in _endedStages)
            {
                Telemetry.MissionTracing.Write(mission, stage, start, end, mission.State.ToString());
                journal.Metrics?.StageEnded(stage, mission, (end - start).TotalSeconds);
            }

            if (mission.Stage == PipelineStage.Learn && mission.State.IsTerminal() && mission.StageStartedAt is { } learnStart)
            {
                // Learning is the last stage: nothing ends it later, so its span closes with its commit.
                Telemetry.MissionTracing.Write(mission, PipelineStage.Learn, learnStart, now, mission.State.ToString());
            }

            foreach (var state in _entered)
            {
                journal.Metrics?.MissionEntered(state, mission.PlaybookKey);
            }

            _endedStages.Clear();
            _entered.Clear();
        }

        /// <summary>Publishes an extra event (an approval request) after the commit.</summary>
        public void Also(PipelineEvent pipelineEvent) => _extra.Add(pipelineEvent);

        /// <summary>
        /// Publishes an extra event after the commit unless that commit ends the mission: a tier-1
        /// "action running" notice is false when the snapshot is refused in the same unit of work.
        /// </summary>
        public void AlsoIfItGoesOn(PipelineEvent pipelineEvent) => _ifItGoesOn.Add(pipelineEvent);

        public async Task SaveAsync(CancellationToken cancellationToken)
        {
            // A tier-1 clearance that ends the mission in the same commit (its snapshot refused, a dry
            // run) ran nothing: "action running" beside the outcome would be false.
            var endsHere = _transitions.Exists(t => t.State.IsTerminal());
            // What to tell people (and Alertmanager) is committed with the transition that causes it.
            if (journal.Outbox is { } outbox)
            {
                foreach (var (state, message) in _transitions)
                {
                    if (endsHere && state == MissionState.Approved)
                    {
                        continue;
                    }

                    await outbox.AddForMissionStateAsync(db, mission, state, message, cancellationToken);
                }
            }

            _transitions.Clear();
            await db.SaveChangesAsync(cancellationToken);
            WriteTelemetry();
            foreach (var ev in _events)
            {
                journal.Notifier.Publish(new MissionUpdated(ev.At, mission.Id, mission.IncidentId, mission.PlaybookKey, mission.Target, mission.Tier,
                    mission.State, ev.Stage, ev.Actor, ev.Message));
            }

            foreach (var extra in _extra)
            {
                journal.Notifier.Publish(extra);
            }

            if (!endsHere)
            {
                foreach (var extra in _ifItGoesOn)
                {
                    journal.Notifier.Publish(extra);
                }
            }

            _events.Clear();
            _extra.Clear();
            _ifItGoesOn.Clear();
        }
    }
}
