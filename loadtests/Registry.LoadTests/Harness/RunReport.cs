namespace Registry.LoadTests.Harness;

/// <summary>A step's figures over the rounds: the medians a table shows.</summary>
internal sealed record StepSummary(string Step, string? CeilingOf, int Rounds, double SubmittedPerSecond, double CompletedPerSecond, double OkItemsPerSecond,
    double P50, double P75, double P95, double P99, double Max, long OkItems, long Failed, long FewestCalls, long Answered)
{
    /// <summary>
    /// True when no call of any round was answered (ok or not): there is no latency to show, and a table shows "—" in
    /// its latency columns, not 0.00 (a hostile review, 2026-12-04: an import job that timed out read "p50 0.00 ms").
    /// </summary>
    public bool NoLatency => Answered == 0;

    /// <summary>
    /// Calls a round must send before its calls per second say anything: a step of one import job, or of two batch calls,
    /// sends its calls in microseconds and answers them after seconds, and "1,202 calls/s submitted, 0 completed" reads
    /// as a throughput it never had. Such a step's figures are its calls' own times and its items per second.
    /// </summary>
    public const int CallsForARate = 10;

    /// <summary>True when some round sent fewer than <see cref="CallsForARate"/> calls: its call rates are not shown.</summary>
    public bool TooFewCallsForARate => FewestCalls < CallsForARate;

    /// <summary>A call rate as a table shows it: the figure, or "—" where the step sent too few calls for one.</summary>
    public string CallRate(double perSecond) => TooFewCallsForARate ? NoRate : perSecond.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>What a table shows in place of a call rate of too few calls; <see cref="NoRateNote"/> explains it.</summary>
    public const string NoRate = "—";

    public static readonly string NoRateNote =
        $"{NoRate}: a call rate of a step that sent fewer than {CallsForARate} calls in a round is not shown (a rate of so few calls says little, " +
        "and of one call sent at once and answered after seconds, such as an import job, nothing: their times are its latency columns, its items per second the first column)";
}

/// <summary>A step against its ceiling: completed items per second, one ratio a round and their median.</summary>
internal sealed record CeilingRatio(string Step, string Ceiling, IReadOnlyList<double> Rounds, double Median);

/// <summary>Everything one run of a scenario measured, with the machine it ran on; the writers render it.</summary>
internal sealed record RunReport
{
    public required string Scenario { get; init; }
    public required string CommandLine { get; init; }
    public required DateTimeOffset Started { get; init; }
    public required DateTimeOffset Ended { get; init; }
    public required string Model { get; init; }
    public required RunBounds Bounds { get; init; }

    /// <summary>
    /// True when every step carries its own bounds (an import job run to its end, an alert soak's phases): the run's
    /// <see cref="Bounds"/> then describe no step, and the report says so instead of giving them.
    /// </summary>
    public bool StepsBoundThemselves { get; init; }
    public required int Rounds { get; init; }
    public required RunEnvironment Environment { get; init; }
    public required IReadOnlyList<string> Notes { get; init; }
    public required IReadOnlyList<StepResult> Results { get; init; }

    /// <summary>What the scenario's own checks found wrong (empty when they all held).</summary>
    public IReadOnlyList<string> FailedChecks { get; init; } = [];

    /// <summary>True when Ctrl+C ended the run early: the figures are what was measured until then.</summary>
    public bool Partial { get; init; }

    public long Failures => Results.Sum(r => r.Failed) + FailedChecks.Count;

    public IReadOnlyList<StepSummary> Summaries() => Results.GroupBy(r => r.Step).Select(g =>
    {
        // The rounds with a latency: a round none of whose calls was answered has none, not one of 0 ms.
        var answered = g.Where(r => r.Latency.Count > 0).Select(r => r.Latency).ToList();
        return new StepSummary(
            g.Key, g.First().CeilingOf, g.Count(),
            Median(g.Select(r => r.SubmittedPerSecond)), Median(g.Select(r => r.CompletedPerSecond)), Median(g.Select(r => r.OkItemsPerSecond)),
            Median(answered.Select(l => l.P50)), Median(answered.Select(l => l.P75)), Median(answered.Select(l => l.P95)),
            Median(answered.Select(l => l.P99)), g.Max(r => r.Latency.Max), g.Sum(r => r.OkItems), g.Sum(r => r.Failed), g.Min(r => r.Submitted),
            g.Sum(r => r.Latency.Count));
    }).ToList();

    /// <summary>
    /// Each measured step over each ceiling that bounds it, round by round (ratios within a round hold on a noisy
    /// machine), for the rounds where both ran.
    /// </summary>
    public IReadOnlyList<CeilingRatio> Ratios() => Results.Where(r => r.CeilingOf is not null).GroupBy(r => (r.Step, r.CeilingOf!)).Select(g =>
    {
        // A round where either step was cut short by a stop, or sent nothing, has no ratio: a step stopped in its warm-up
        // read "heartbeat ÷ noop-grain = 0.00" in bold, and a round stopped half-way weighed in the median (a hostile
        // review, 2026-12-04).
        var ratios = g.Where(ceiling => !ceiling.Partial).Select(ceiling =>
                Results.FirstOrDefault(r => r.Step == ceiling.CeilingOf && r.Round == ceiling.Round) is { Partial: false, Submitted: > 0 } bounded && ceiling.OkItemsPerSecond > 0
                ? bounded.OkItemsPerSecond / ceiling.OkItemsPerSecond
                : double.NaN)
            .Where(x => !double.IsNaN(x)).ToList();
        return new CeilingRatio(g.Key.Item2, g.Key.Step, ratios, ratios.Count > 0 ? Median(ratios) : double.NaN);
    }).Where(r => r.Rounds.Count > 0).ToList(); // a step stopped before it ran, or a ceiling that completed nothing, has no ratio (not "NaN")

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : Bench.Measurement.Median(sorted);
    }
}
