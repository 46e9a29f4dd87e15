using System.Threading.Channels;
using Grace.Engine.Configuration;
using Microsoft.Extensions.Options;

namespace Grace.Engine.Capture;

/// <summary>The way in for signals. Writing never blocks and never throws.</summary>
public interface ISignalSink
{
    /// <summary>Queues a signal; false when the buffer was full and the signal was dropped (and counted).</summary>
    bool TryWrite(Signal signal);
}

/// <summary>
/// Completes once every signal it was handed for is stored in the database: how an HTTP request
/// answers 202 only for what a crash can no longer lose. Many requests share one commit.
/// </summary>
public sealed class StoreReceipt
{
    private readonly TaskCompletionSource _stored = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _pending;

    internal StoreReceipt(int count)
    {
        _pending = count;
        if (count == 0)
        {
            _stored.TrySetResult();
        }
    }

    /// <summary>Completes when all the signals are stored; fails if Grace stopped before storing them.</summary>
    public Task Stored => _stored.Task;

    internal void OneStored()
    {
        if (Interlocked.Decrement(ref _pending) == 0)
        {
            _stored.TrySetResult();
        }
    }

    internal void Lost(Exception why) => _stored.TrySetException(why);
}

/// <summary>A queued signal and, when someone waits for it to be stored, their receipt.</summary>
internal readonly record struct IntakeItem(Signal Signal, StoreReceipt? Receipt);

/// <summary>A bounded buffer between reporters and the capture stage, with counters of what came and what was dropped.</summary>
public sealed class SignalIntake : ISignalSink
{
    private readonly Channel<IntakeItem> _channel;
    private long _accepted;
    private long _dropped;

    public SignalIntake(IOptions<EngineOptions> options)
    {
        Capacity = options.Value.CaptureBufferCapacity;
        _channel = Channel.CreateBounded<IntakeItem>(new BoundedChannelOptions(Capacity)
        {
            // Wait mode makes TryWrite answer false when full instead of silently dropping.
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    public int Capacity { get; }
    public long Accepted => Interlocked.Read(ref _accepted);
    public long Dropped => Interlocked.Read(ref _dropped);
    public int Buffered => _channel.Reader.Count;

    internal ChannelReader<IntakeItem> Reader => _channel.Reader;

    /// <summary>Takes the next queued signal without storing it (what tests and the benchmark harness inspect).</summary>
    internal bool TryTake(out Signal signal)
    {
        var taken = _channel.Reader.TryRead(out var item);
        signal = item.Signal;
        return taken;
    }

    public bool TryWrite(Signal signal)
    {
        if (signal is null)
        {
            Interlocked.Increment(ref _dropped);
            return false;
        }

        return TryWrite(new IntakeItem(signal, null));
    }

    /// <summary>
    /// Queues signals and returns how many were taken, with a receipt that completes once those are
    /// stored (group commit). The rest were dropped and counted.
    /// </summary>
    public (int Accepted, StoreReceipt Receipt) TryWriteAndConfirm(IReadOnlyList<Signal> signals)
    {
        var receipt = new StoreReceipt(signals.Count);
        var accepted = 0;
        foreach (var signal in signals)
        {
            if (TryWrite(new IntakeItem(signal, receipt)))
            {
                accepted++;
            }
            else
            {
                receipt.OneStored(); // Dropped: nothing to wait for.
            }
        }

        return (accepted, receipt);
    }

    private bool TryWrite(IntakeItem item)
    {
        if (_channel.Writer.TryWrite(item))
        {
            Interlocked.Increment(ref _accepted);
            return true;
        }

        Interlocked.Increment(ref _dropped);
        return false;
    }
}
