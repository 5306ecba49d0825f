using Registry.LoadTests.Harness;

namespace Registry.LoadTests.Scenarios;

/// <summary>
/// A load scenario: it starts (or finds) its target, prepares what the calls need (devices, tokens, connections),
/// and hands the harness the steps to measure; the harness runs them in rounds and writes the report. A scenario
/// whose result is more than rates (the alert soak: every alert arrives once, no false one) checks it in
/// <see cref="VerifyAsync"/>; each problem it returns counts as a failure of the run.
/// </summary>
internal interface IScenario : IAsyncDisposable
{
    /// <summary>The load model when the command line gives none.</summary>
    LoadModel DefaultModel { get; }

    /// <summary>What the report says about the target and the set-up (fill time, device count, where the cluster runs).</summary>
    IReadOnlyList<string> Notes { get; }

    Task<IReadOnlyList<Step>> PrepareAsync(ScenarioContext context, CancellationToken cancel);

    Task<IReadOnlyList<string>> VerifyAsync(CancellationToken cancel) => Task.FromResult<IReadOnlyList<string>>([]);

    /// <summary>
    /// True for a scenario whose steps each bound themselves (a job run to its end, a soak phase until its alerts): the
    /// report then gives no run bounds, also when it was stopped before its steps were made (a soak stopped while its
    /// cluster started read "each step 10 s, after a 2 s warm-up").
    /// </summary>
    bool StepsBoundThemselves => false;
}

/// <summary>What a scenario gets from the harness: the shared options and a line-at-a-time log.</summary>
internal sealed record ScenarioContext(HarnessOptions Options, Action<string> Log);

/// <summary>A scenario by name, its one-line summary and how it is made from its own options.</summary>
internal sealed record ScenarioEntry(string Name, string Summary, Func<Arguments, IScenario> Create);
