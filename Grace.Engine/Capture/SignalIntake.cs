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

/// <summary>A bounded buffer between reporters and the capture stage, with counters of what came and what was dropped.</summary>
public sealed class SignalIntake : ISignalSink
{
    private readonly Channel<Signal> _channel;
    private long _accepted;
    private long _dropped;

    public SignalIntake(IOptions<EngineOptions> options)
    {
        Capacity = options.Value.CaptureBufferCapacity;
        _channel = Channel.CreateBounded<Signal>(new BoundedChannelOptions(Capacity)
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

    internal ChannelReader<Signal> Reader => _channel.Reader;

    public bool TryWrite(Signal signal)
    {
        if (signal is not null && _channel.Writer.TryWrite(signal))
        {
            Interlocked.Increment(ref _accepted);
            return true;
        }

        Interlocked.Increment(ref _dropped);
        return false;
    }
}
