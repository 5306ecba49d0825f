using System.Globalization;
using System.Text;

namespace Registry.Bench.Scale;

/// <summary>
/// One fill step: its rate, the process's memory after a full collection (divided by the devices registered, above
/// the empty registry's baseline), a full cursor walk and the statistics latency at that size, and the machine's
/// 1-minute load average when the step ended (on a shared machine, what else was running is part of the figure).
/// </summary>
internal sealed record ScaleStep(
    int Step, long From, long To, double Seconds, long Failed, bool Partial,
    long RssBytes, long HeapBytes, long? StorageRssBytes,
    double WalkSeconds, long Walked, bool WalkComplete, double StatisticsMs, long StatisticsTotal, double? LoadAverage)
{
    public double DevicesPerSecond => Seconds > 0 ? (To - From - Failed) / Seconds : 0;
}

/// <summary>
/// The process's memory once every device grain was deactivated, after a compacting collection, with the devices the
/// statistics counted then.
/// </summary>
internal sealed record IdleMemory(long Registered, long ActivationsLeft, double Seconds, long RssBytes, long HeapBytes);

/// <summary>What a scale run measured, and why it stopped; renders as Markdown and CSV.</summary>
internal sealed class ScaleReport
{
    public required ScaleOptions Options { get; init; }
    public DateTimeOffset Started { get; } = DateTimeOffset.UtcNow;
    public List<ScaleStep> Steps { get; } = [];
    /// <summary>Final GET/PUT phases at the size reached, and the storage ceilings (rates in devices or entities per second).</summary>
    public List<PhaseResult> Phases { get; } = [];
    public long BaselineRssBytes { get; set; }
    public long BaselineHeapBytes { get; set; }
    public long PeakRssBytes { get; set; }
    /// <summary>Memory with every device idle (deactivated), measured after the final phases; null if the run did not get there.</summary>
    public IdleMemory? Idle { get; set; }
    public string StopReason { get; set; } = "";
    /// <summary>What went wrong, in words: failed items by error code, counts that disagree with what was acknowledged.</summary>
    public List<string> Notes { get; } = [];

    public long Registered => Steps.Count == 0 ? 0 : Steps[^1].To - Steps.Sum(s => s.Failed);

    public long Failures => Steps.Sum(s => s.Failed) + Phases.Sum(p => p.Errors) + Notes.Count + Steps.Count(s => !s.WalkComplete);

    private long FailedUpTo(ScaleStep step) => Steps.TakeWhile(s => s.Step <= step.Step).Sum(s => s.Failed);

    private double? Rate(string name) => Phases.FirstOrDefault(p => p.Name == name)?.OpsPerSecond;

    /// <summary>The issue's goals as ratios of figures from this run (null where this run has no such figure).</summary>
    public IEnumerable<(string Figure, double? Value, string Goal)> Ratios()
    {
        // A time-capped run ends in a partial step; its rate is still the rate at that size, so it is compared too.
        if (Steps.Count >= 2)
        {
            yield return ($"last step{(Steps[^1].Partial ? " (partial)" : "")} ÷ first step, devices/s", Steps[^1].DevicesPerSecond / Steps[0].DevicesPerSecond, "≥ 0.8");
        }
        var insertStart = Rate("table-insert (start)");
        var insertEnd = Rate("table-insert (end)");
        yield return ("single PUT create at final size ÷ raw Table insert (end)", Rate("put-create") / insertEnd, "≥ 0.5 (durable)");
        if (Steps.Count > 0)
        {
            // The issue's bulk goal is for bulk requests; an import fill is reported beside the same ceilings, without it.
            var (fill, goal) = Options.Fill == ScaleFill.Import ? ("import fill", "") : ("bulk fill", "≥ 1.5 (durable)");
            yield return ($"{fill}, first step ÷ raw Table insert (start)", Steps[0].DevicesPerSecond / insertStart, goal);
            yield return ($"{fill}, last step ÷ raw Table insert (end)", Steps[^1].DevicesPerSecond / insertEnd, goal);
            yield return ($"{fill}, first step ÷ raw 100-entity transactions (start)", Steps[0].DevicesPerSecond / Rate("table-egt100 (start)"), "");
        }
        if (Steps.Count > 0 && Steps[^1].WalkComplete && Rate("raw-scan (end)") is { } scan)
        {
            // The walk reads the same rows a page at a time (and each page's persisted presence, and the index).
            yield return ("cursor walk at the final size ÷ raw sequential scan of the device rows (end), rows/s", Steps[^1].Walked / Steps[^1].WalkSeconds / scan, "");
        }
        if (Idle is { } idle && idle.Registered > 0)
        {
            // Over the empty registry, so what the process holds once it has served traffic (pools, compiled code) counts
            // too: small beside a million devices, not beside a few thousand.
            var goal = Options.Mode == ScaleMode.Durable ? "≤ 300 (durable)" : "≤ 2048 (memory)";
            yield return ("idle RSS per registered device over the empty registry, bytes", (double)(idle.RssBytes - BaselineRssBytes) / idle.Registered, goal);
            yield return ("idle heap per registered device over the empty registry, bytes", (double)(idle.HeapBytes - BaselineHeapBytes) / idle.Registered, goal);
        }
    }

    private static string F(double v, string format = "F0") => v.ToString(format, CultureInfo.InvariantCulture);

    private static string Mb(long bytes) => F(bytes / 1048576.0);

    private string PerDevice(long bytes, long baseline, ScaleStep s) => s.To > 0 ? F((double)(bytes - baseline) / (s.To - FailedUpTo(s))) : "";

    public string ToMarkdown()
    {
        var o = Options;
        var md = new StringBuilder();
        static string FillText(ScaleOptions o) => o.Fill == ScaleFill.Import
            ? "one import job per step (a devices.txt of create lines on the run's Azurite, its upload not counted), "
            : string.Create(CultureInfo.InvariantCulture, $"bulk creates of {o.Batch} devices, {o.Concurrency} requests in flight, ");
        md.AppendLine(CultureInfo.InvariantCulture, $"### Scale phase, {o.Mode.ToString().ToLowerInvariant()} mode, {Started:yyyy-MM-dd HH:mm} UTC");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}, server GC {System.Runtime.GCSettings.IsServerGC}; " +
            $"{FillText(o)}SAS on; index partitions {(o.Partitions?.ToString(CultureInfo.InvariantCulture) ?? "host default")}; " +
            $"target {o.Devices:N0} devices in steps of {o.Step:N0}, fill capped at {o.FillTime.TotalMinutes:0.#} min{string.Concat(o.HostSettings.Select(kv => $"; {kv.Key}={kv.Value}"))}. Stopped: {StopReason}.");
        md.AppendLine();
        md.AppendLine("Memory is the bench process's, which hosts the registry in-process (RSS = VmRSS of /proc/self/status; heap = GC.GetTotalMemory(true));" +
            $" per device = (value − empty registry's) ÷ devices registered. Empty registry: RSS {Mb(BaselineRssBytes)} MB, heap {Mb(BaselineHeapBytes)} MB. Peak RSS (VmHWM) {Mb(PeakRssBytes)} MB." +
            (o.Mode == ScaleMode.Durable ? " Azurite (a separate node process, not included) RSS in its own column." : ""));
        md.AppendLine();
        var storage = o.Mode == ScaleMode.Durable;
        md.AppendLine("| step | devices | devices/s | failed | RSS MB | RSS B/device | heap MB | heap B/device |" + (storage ? " Azurite RSS MB |" : "") + " cursor walk s | walked | statistics ms (median) | load (1 min) |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- |" + (storage ? " --- |" : "") + " --- | --- | --- | --- |");
        foreach (var s in Steps)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {s.Step}{(s.Partial ? " (partial)" : "")} | {s.From:N0} → {s.To:N0} | {F(s.DevicesPerSecond)} | {s.Failed} | {Mb(s.RssBytes)} | {PerDevice(s.RssBytes, BaselineRssBytes, s)} | " +
                $"{Mb(s.HeapBytes)} | {PerDevice(s.HeapBytes, BaselineHeapBytes, s)} |{(storage ? $" {(s.StorageRssBytes is { } a ? Mb(a) : "")} |" : "")}" +
                $" {F(s.WalkSeconds, "F1")}{(s.WalkComplete ? "" : " (abandoned)")} | {s.Walked:N0} | {F(s.StatisticsMs, "F1")} | {(s.LoadAverage is { } l ? F(l, "F1") : "")} |");
        }
        md.AppendLine();
        if (Phases.Count > 0)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"At the size reached ({Registered:N0} devices), {o.Concurrency} in flight, {o.PhaseTime.TotalSeconds:0} s each{(storage ? "; ceilings: raw Azure Table inserts on the same Azurite into a fresh table, per entity" : "")}:");
            md.AppendLine();
            md.AppendLine("| phase | per second | p50 ms | p99 ms | errors |");
            md.AppendLine("| --- | --- | --- | --- | --- |");
            foreach (var p in Phases)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {p.Name} | {F(p.OpsPerSecond)} | {F(p.P50Ms, "F1")} | {F(p.P99Ms, "F1")} | {p.Errors} |");
            }
            md.AppendLine();
        }
        if (Idle is { } idleMemory)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"Idle: every silo asked to deactivate what is idle (`ForceActivationCollection(0)`) until no device grain was active ({idleMemory.ActivationsLeft:N0} left after {F(idleMemory.Seconds, "F1")} s), " +
                $"then a compacting, decommitting collection: RSS {Mb(idleMemory.RssBytes)} MB, heap {Mb(idleMemory.HeapBytes)} MB, {idleMemory.Registered:N0} devices registered (the fill's and the PUT phase's, by the statistics).");
            md.AppendLine();
        }
        var ratios = Ratios().Where(r => r.Value is { } v && double.IsFinite(v)).ToList();
        if (ratios.Count > 0)
        {
            md.AppendLine("| ratio | value | goal (issue 8) |");
            md.AppendLine("| --- | --- | --- |");
            foreach (var (figure, value, goal) in ratios)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {figure} | {F(value!.Value, "F2")} | {goal} |");
            }
        }
        if (Notes.Count > 0)
        {
            md.AppendLine();
            foreach (var note in Notes)
            {
                md.AppendLine("- " + note);
            }
        }
        return md.ToString();
    }

    public string StepsCsv()
    {
        var csv = new StringBuilder("mode,step,partial,from,to,seconds,devices_per_s,failed,rss_bytes,rss_bytes_per_device,heap_bytes,heap_bytes_per_device,storage_rss_bytes,walk_s,walked,walk_complete,statistics_ms,load_1min\n");
        foreach (var s in Steps)
        {
            csv.AppendLine(string.Join(',', Options.Mode.ToString().ToLowerInvariant(), s.Step, s.Partial, s.From, s.To, F(s.Seconds, "F2"), F(s.DevicesPerSecond, "F1"), s.Failed,
                s.RssBytes, PerDevice(s.RssBytes, BaselineRssBytes, s), s.HeapBytes, PerDevice(s.HeapBytes, BaselineHeapBytes, s), s.StorageRssBytes?.ToString(CultureInfo.InvariantCulture) ?? "",
                F(s.WalkSeconds, "F2"), s.Walked, s.WalkComplete, F(s.StatisticsMs, "F2"), s.LoadAverage is { } l ? F(l, "F2") : ""));
        }
        return csv.ToString();
    }

    public string PhasesCsv()
    {
        var csv = new StringBuilder("mode,devices,phase,per_s,p50_ms,p99_ms,errors\n");
        foreach (var p in Phases)
        {
            csv.AppendLine(string.Join(',', Options.Mode.ToString().ToLowerInvariant(), Registered, p.Name, F(p.OpsPerSecond, "F1"), F(p.P50Ms, "F2"), F(p.P99Ms, "F2"), p.Errors));
        }
        return csv.ToString();
    }
}
