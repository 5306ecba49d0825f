using System.Diagnostics;

namespace Registry.LoadTests.Harness;

/// <summary>What the live display reads while a step runs.</summary>
internal sealed class StepProgress(string step, int round, string phase, LoadModel model, Recorder recorder, Stopwatch clock)
{
    public string Step { get; } = step;
    public int Round { get; } = round;
    public string Phase { get; set; } = phase;
    public LoadModel Model { get; } = model;
    public Recorder Recorder { get; } = recorder;
    public TimeSpan Elapsed => clock.Elapsed;
}

/// <summary>
/// Runs one step under a load model: a discarded warm-up, then the measured part until its bounds, then a drain of
/// the calls still in flight. The caller's token (Ctrl+C) stops sending at once and returns what was measured so far,
/// marked partial.
/// </summary>
internal static class StepRunner
{
    /// <summary>How long a step stopped by Ctrl+C waits for its calls in flight.</summary>
    private static readonly TimeSpan InterruptedDrain = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How a call still out when a stopped step's drain ended is counted: the stop's doing, not the registry's (a
    /// cancelled import read "no answer before the drain ended", as if the job had outlived its bound).
    /// </summary>
    public const string InterruptedFailure = "no answer before the run was stopped (Ctrl+C or SIGTERM)";

    /// <summary>
    /// How a call that failed once the run was stopped is counted: a signal sent to the whole process group (<c>timeout</c>,
    /// a terminal's Ctrl+C, a CI job's cancel) also ends the harness's own children (the MQTT brokers, Azurite, the
    /// registry process), and their calls' failures read as the target's (a hostile review, 2026-12-04: 64 connects in
    /// flight reported as MqttCommunicationException). The error is kept, marked as after the stop.
    /// </summary>
    public static string StoppedFailure(string failure) => $"failed after the run was stopped (Ctrl+C or SIGTERM): {failure}";

    public static async Task<StepResult> RunAsync(Step step, LoadModel model, RunBounds bounds, int round, Action<StepProgress>? observe, CancellationToken cancel)
    {
        model = step.Model ?? model;
        bounds = step.Bounds ?? bounds;
        if (step.WarmUp && bounds.WarmUp > TimeSpan.Zero && !cancel.IsCancellationRequested)
        {
            await MeasureAsync(step, model.Start, bounds with { Duration = bounds.WarmUp, Count = null }, round, "warm-up", observe, cancel);
        }
        return await MeasureAsync(step, model, bounds, round, "measure", observe, cancel);
    }

    private static async Task<StepResult> MeasureAsync(Step step, LoadModel model, RunBounds bounds, int round, string phase, Action<StepProgress>? observe, CancellationToken cancel)
    {
        var recorder = new Recorder();
        var clock = Stopwatch.StartNew();
        var progress = new StepProgress(step.Name, round, phase, model, recorder, clock);
        observe?.Invoke(progress);
        var maxCalls = bounds.Count is { } count ? (count + step.ItemsPerCall - 1) / step.ItemsPerCall : long.MaxValue;
        // The duration's own token says whether it ended the sends: the stopwatch read against it disagreed, a timer firing
        // on the coarse tick count a few milliseconds before the stopwatch reached the duration (a fresh-clone run, 2026-12-08).
        using var durationEnded = new CancellationTokenSource(bounds.Duration);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel, durationEnded.Token);
        var until = phase == "measure" && step.Until is { } condition ? EndWhenAsync(condition, stop) : Task.CompletedTask;
        using var abandon = new CancellationTokenSource();
        var calls = new InFlight(step, recorder, clock, abandon.Token, cancel);

        var workers = Task.CompletedTask;
        double? scheduled = null;
        long unsent = 0;
        if (model.Kind == LoadKind.Open)
        {
            await SendOpenAsync(calls, model, step.ItemsPerCall, bounds.Duration, maxCalls, clock, stop.Token);
            // The schedule's span: up to the next call's intended time, within the step's duration. The last send came
            // before it (open:1 for 12 s sends its 12th call at 11 s), and dividing by that time inflated the rates:
            // 1.09 calls/s for open:1 (a hostile review, 2026-12-04).
            var schedule = new OpenSchedule(model, step.ItemsPerCall);
            scheduled = stop.IsCancellationRequested ? null
                : Math.Min(schedule.IntendedSeconds(recorder.Submitted), bounds.Duration.TotalSeconds);
            if (durationEnded.IsCancellationRequested && !cancel.IsCancellationRequested && recorder.Submitted < maxCalls)
            {
                // The step's duration cut the sends while calls it had scheduled before its end were still unsent: the senders
                // were behind (a review, 2026-12-07: 212,900 of open:100000's 300,000 sent in 3 s, said nowhere).
                unsent = Math.Max(0, schedule.CallsBefore(bounds.Duration.TotalSeconds, maxCalls) - recorder.Submitted);
            }
        }
        else
        {
            workers = await SendClosedAsync(calls, model, maxCalls, clock, stop);
        }
        var submitSeconds = Math.Max(clock.Elapsed.TotalSeconds, scheduled ?? 0);
        await stop.CancelAsync();
        await until;
        progress.Phase = phase + " (drain)";
        // The drain ends at its bound, or InterruptedDrain after Ctrl+C, whether that came before the drain or during it:
        // a step whose calls all left at once (one import job, whose drain is the job's timeout) is all drain, and a
        // SIGTERM during it waited for the whole job.
        using var drainBound = new CancellationTokenSource(cancel.IsCancellationRequested ? InterruptedDrain : bounds.Drain);
        using var interrupted = cancel.Register(() =>
        {
            try
            {
                drainBound.CancelAfter(InterruptedDrain < bounds.Drain ? InterruptedDrain : bounds.Drain);
            }
            catch (ObjectDisposedException)
            {
                // The drain ended meanwhile.
            }
        });
        // A closed worker may be starting its last call as the step stops: wait for the workers before counting calls.
        await Task.WhenAny(workers, Task.Delay(Timeout.Infinite, drainBound.Token)); // WhenAny does not throw when the delay is cancelled
        var drained = await calls.DrainAsync(drainBound.Token, cancel);
        if (!drained)
        {
            await abandon.CancelAsync();
        }
        return new StepResult
        {
            Step = step.Name,
            Round = round,
            Model = model.ToString(),
            ItemsPerCall = step.ItemsPerCall,
            CeilingOf = step.CeilingOf,
            Description = step.Description,
            SubmitSeconds = submitSeconds,
            ScheduledSeconds = scheduled,
            UnsentCalls = unsent,
            TotalSeconds = Math.Max(clock.Elapsed.TotalSeconds, submitSeconds),
            Submitted = recorder.Submitted,
            Completed = recorder.Completed,
            Ok = recorder.Ok,
            Failures = recorder.Failures,
            Latency = recorder.Latency(),
            Timeline = recorder.Timeline(),
            Partial = cancel.IsCancellationRequested,
        };
    }

    /// <summary>Stops sending once <paramref name="condition"/> holds (it is awaited before the step returns).</summary>
    private static async Task EndWhenAsync(Func<CancellationToken, Task> condition, CancellationTokenSource stop)
    {
        try
        {
            await condition(stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The step's own bounds ended it first.
        }
        await stop.CancelAsync();
    }

    /// <summary>
    /// One sender per core, each taking every k-th call of the schedule, so sending keeps up at high rates. A sender
    /// that falls behind sends at once and the latency still counts from the intended time.
    /// </summary>
    private static async Task SendOpenAsync(InFlight calls, LoadModel model, int itemsPerCall, TimeSpan duration, long maxCalls, Stopwatch clock, CancellationToken stop)
    {
        var schedule = new OpenSchedule(model, itemsPerCall);
        var lanes = Math.Max(1, Environment.ProcessorCount);
        var end = duration.TotalSeconds;
        await Task.WhenAll(Enumerable.Range(0, lanes).Select(lane => Task.Run(async () =>
        {
            for (long n = lane; n < maxCalls && !stop.IsCancellationRequested; n += lanes)
            {
                var intended = schedule.IntendedSeconds(n);
                if (intended >= end)
                {
                    break;
                }
                var wait = intended - clock.Elapsed.TotalSeconds;
                // Timers are about a millisecond coarse: a call due within one leaves now, timed from when it leaves.
                if (wait > 0.001)
                {
                    try
                    {
                        await Task.Delay(TimeSpan.FromSeconds(wait), stop);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
                calls.Start(n, Math.Min(clock.ElapsedTicks, (long)(intended * Stopwatch.Frequency)));
            }
        }, CancellationToken.None)));
    }

    /// <summary>Workers that each keep one call in flight; a controller adds or retires workers as the ramp moves.</summary>
    private static async Task<Task> SendClosedAsync(InFlight calls, LoadModel model, long maxCalls, Stopwatch clock, CancellationTokenSource stop)
    {
        var workers = new List<Task>();
        var running = new bool[(int)Math.Max(model.From, model.To)];
        var target = 0;
        long sequence = -1;
        async Task Work(int index)
        {
            while (!stop.IsCancellationRequested && index < Volatile.Read(ref target))
            {
                var n = Interlocked.Increment(ref sequence);
                if (n >= maxCalls)
                {
                    break;
                }
                var call = calls.Run(n, clock.ElapsedTicks);
                if (n == maxCalls - 1)
                {
                    // The count is reached once its last call leaves, even if earlier calls never answer.
                    await stop.CancelAsync();
                }
                if (call.IsCompleted)
                {
                    // A call that fails at once ("not connected") would otherwise spin this worker on its thread: the
                    // pool starves, the step's own timer never fires, and threads pile up until the process dies.
                    await Task.Yield();
                }
                await call;
            }
            Volatile.Write(ref running[index], false);
        }
        while (!stop.IsCancellationRequested)
        {
            Volatile.Write(ref target, (int)Math.Round(model.At(clock.Elapsed)));
            for (var i = 0; i < target; i++)
            {
                if (!Volatile.Read(ref running[i]))
                {
                    running[i] = true;
                    var index = i;
                    workers.Add(Task.Run(() => Work(index), CancellationToken.None));
                }
            }
            try
            {
                await Task.Delay(model.Ramp > TimeSpan.Zero ? TimeSpan.FromMilliseconds(100) : Timeout.InfiniteTimeSpan, stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
        return Task.WhenAll(workers);
    }

    /// <summary>The calls in flight of one measured part: times, records and counts them, and waits for the last.</summary>
    private sealed class InFlight(Step step, Recorder recorder, Stopwatch clock, CancellationToken abandon, CancellationToken stopped)
    {
        private readonly TaskCompletionSource _empty = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _count;
        private volatile bool _stopping;
        private volatile bool _closed;

        /// <summary>Starts call <paramref name="n"/> without waiting for it (the open model).</summary>
        public void Start(long n, long startTicks) => _ = Run(n, startTicks);

        public async Task Run(long n, long startTicks)
        {
            Interlocked.Increment(ref _count);
            recorder.Submit(Seconds(startTicks));
            string? failure;
            try
            {
                failure = await step.Call(n, abandon);
            }
            catch (Exception e)
            {
                failure = e.GetType().Name;
            }
            var end = clock.ElapsedTicks;
            if (!_closed)
            {
                recorder.Complete(Seconds(end), (end - startTicks) * 1_000_000 / Stopwatch.Frequency, failure is not null && stopped.IsCancellationRequested ? StoppedFailure(failure) : failure);
            }
            if (Interlocked.Decrement(ref _count) == 0 && _stopping)
            {
                _empty.TrySetResult();
            }
        }

        /// <summary>
        /// Waits for the calls in flight; those still out when <paramref name="until"/> is cancelled count as abandoned, as
        /// cut by the stop when <paramref name="interrupt"/> (Ctrl+C, SIGTERM) came first.
        /// </summary>
        public async Task<bool> DrainAsync(CancellationToken until, CancellationToken interrupt)
        {
            _stopping = true;
            if (Interlocked.Read(ref _count) == 0)
            {
                _empty.TrySetResult();
            }
            try
            {
                await _empty.Task.WaitAsync(until);
                return true;
            }
            catch (OperationCanceledException) when (until.IsCancellationRequested)
            {
                _closed = true;
                recorder.Abandon(Seconds(clock.ElapsedTicks), interrupt.IsCancellationRequested ? InterruptedFailure : "no answer before the drain ended", recorder.InFlight);
                return false;
            }
        }

        private static double Seconds(long ticks) => (double)ticks / Stopwatch.Frequency;
    }
}
