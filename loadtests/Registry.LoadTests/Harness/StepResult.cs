namespace Registry.LoadTests.Harness;

/// <summary>
/// What one step measured in one round. Rates are over the measured time: submitted over the time calls were sent,
/// completed (calls answered, ok or failed) over the time until the last answer; an open model that the target cannot
/// keep up with shows as completed below submitted, as latency growing over the timeline, and as calls abandoned at the
/// drain's end: failures ("no answer before the drain ended") that are not completed.
/// </summary>
internal sealed record StepResult
{
    public required string Step { get; init; }
    public required int Round { get; init; }
    public required string Model { get; init; }
    public int ItemsPerCall { get; init; } = 1;
    public string? CeilingOf { get; init; }
    public string? Description { get; init; }
    public required double SubmitSeconds { get; init; }
    public required double TotalSeconds { get; init; }

    /// <summary>
    /// The open model's schedule span (null for the closed model, or a step its bounds or a stop ended early). Sends that
    /// ended well past it mean the harness could not keep to its schedule: <see cref="GeneratorBehind"/>.
    /// </summary>
    public double? ScheduledSeconds { get; init; }

    /// <summary>
    /// True when the open model's sends ended more than a tenth (and 50 ms) past their schedule: the harness, not the
    /// target, set the submitted rate, and the report says so (a hostile review, 2026-12-04: open:1000000 submitted
    /// 176,216 calls/s with nothing saying the generator fell behind).
    /// </summary>
    public bool GeneratorBehind => (ScheduledSeconds is { } s && SubmitSeconds > s * 1.1 + 0.05) || UnsentCalls > 0;

    /// <summary>
    /// Calls the open model scheduled before the step's end that were never sent: the step's duration ended while the
    /// senders were behind. A review (2026-12-07) saw 87,100 of open:100000's 300,000 unsent with nothing said.
    /// </summary>
    public long UnsentCalls { get; init; }
    public required long Submitted { get; init; }
    public required long Completed { get; init; }
    public required long Ok { get; init; }
    public required IReadOnlyDictionary<string, long> Failures { get; init; }
    public required LatencySummary Latency { get; init; }
    public required IReadOnlyList<TimelinePoint> Timeline { get; init; }

    /// <summary>True when Ctrl+C ended the step before its bounds did.</summary>
    public bool Partial { get; init; }

    public long Failed => Failures.Values.Sum();

    public double SubmittedPerSecond => SubmitSeconds > 0 ? Submitted / SubmitSeconds : 0;

    public double CompletedPerSecond => TotalSeconds > 0 ? Completed / TotalSeconds : 0;

    /// <summary>Successful items per second (heartbeats, not batch calls).</summary>
    public double OkItemsPerSecond => TotalSeconds > 0 ? Ok * (double)ItemsPerCall / TotalSeconds : 0;

    public long OkItems => Ok * ItemsPerCall;
}
