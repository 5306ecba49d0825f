namespace Registry.Bench.Heartbeats;

/// <summary>The <c>heartbeat</c> command's options; every run is bounded by rounds × phases × seconds.</summary>
internal sealed record HeartbeatOptions
{
    /// <summary>Registered devices that beat (ids drawn round-robin, so every device beats once per N calls).</summary>
    public int Devices { get; init; } = 100_000;

    /// <summary>Measured rounds (round 0, a short warm-up, is never reported).</summary>
    public int Rounds { get; init; } = 3;

    public TimeSpan PhaseTime { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>Calls in flight from the client (the closed model).</summary>
    public int Concurrency { get; init; } = 256;

    /// <summary>Device ids per <c>IHeartbeatBatchGrain</c> call in the batch phase.</summary>
    public int Batch { get; init; } = 100;

    /// <summary>
    /// Distinct no-op grains the ceiling phase calls; by default as many as devices beat, so the ceiling pays for the
    /// same number of activations (cache misses, directory size, heap) as the heartbeats it is compared with.
    /// </summary>
    public int? NoopGrains { get; init; }

    /// <summary>The phases of a round take turns of this length, so load that drifts during a round hits each alike.</summary>
    public TimeSpan Slice { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Devices that beat through the HTTPS device endpoint, each with its own SAS token, beside a no-op Kestrel endpoint;
    /// 0 skips the HTTPS phases.
    /// </summary>
    public int HttpsDevices { get; init; } = 10_000;

    /// <summary>
    /// Beat the devices with the activations their creation left, instead of a fleet coming online: by default every
    /// activation the fill made is collected first and each device is brought back by its first heartbeat, as a fleet
    /// registered earlier connects (and as a durable registry reads each device back from storage).
    /// </summary>
    public bool BeatAfterCreate { get; init; }

    /// <summary>
    /// An Azure Storage connection string (Azurite): the registry durable, so what a registered device keeps lives in
    /// storage, not in the process's memory as the embedded default's stores keep it; null runs embedded.
    /// </summary>
    public string? Storage { get; init; }

    /// <summary>Runs only this phase (noop, single or batch) in each round, for a profiler attached to the process.</summary>
    public string? Only { get; init; }

    /// <summary>Prefix of the report files (.md, .csv).</summary>
    public string? Output { get; init; }

    public static HeartbeatOptions Parse(string[] args)
    {
        var options = new HeartbeatOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new UsageException($"{args[i]} needs a value.");
            int Int() { var option = args[i]; return BenchArgs.Int(option, Next(), int.MinValue); }
            double Seconds() { var option = args[i]; return BenchArgs.Positive(option, Next()); }
            options = args[i] switch
            {
                "--devices" => options with { Devices = Int() },
                "--rounds" => options with { Rounds = Int() },
                "--seconds" => options with { PhaseTime = TimeSpan.FromSeconds(Seconds()) },
                "--concurrency" => options with { Concurrency = Int() },
                "--batch" => options with { Batch = Int() },
                "--noop-grains" => options with { NoopGrains = Int() },
                "--only" => options with { Only = Next() },
                "--slice" => options with { Slice = TimeSpan.FromSeconds(Seconds()) },
                "--https-devices" => options with { HttpsDevices = Int() },
                "--out" => options with { Output = Next() },
                "--storage" => options with { Storage = Next() },
                "--beat-after-create" => options with { BeatAfterCreate = true },
                _ => throw new UsageException($"Unknown option {args[i]}. Options: --devices --rounds --seconds --concurrency --batch --noop-grains --slice --only --https-devices --beat-after-create --storage --out"),
            };
        }
        if (options.Devices < 1 || options.Rounds < 1 || options.Concurrency < 1 || options.Batch is < 1 or > 1000 || options.NoopGrains < 1 || options.Slice <= TimeSpan.Zero || options.HttpsDevices < 0)
        {
            throw new UsageException("--devices, --rounds, --concurrency, --noop-grains and --slice must be positive; --batch 1..1000.");
        }
        return options;
    }
}
