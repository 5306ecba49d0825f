namespace Registry.Grains.Storage;

/// <summary>
/// Marks the partition loads that nobody's single request waits for: those of a sweep over every partition (the
/// statistics call, the monitor partitions woken after a start or a silo's death). The mark travels in Orleans' request
/// context, so a partition activated by such a call loads as a background load (<c>StorageTimeBound.Load</c>), and a
/// device request whose own partition must load goes ahead of them.
/// </summary>
public static class BackgroundLoads
{
    private const string Key = "registry.background-load";

    /// <summary>Whether the current call came from a sweep.</summary>
    public static bool Requested => RequestContext.Get(Key) is true;

    /// <summary>Marks the calls made from here on in this flow (an async method's own; its caller's stay unmarked).</summary>
    public static void Mark() => RequestContext.Set(Key, true);
}
