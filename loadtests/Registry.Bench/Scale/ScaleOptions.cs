using System.Globalization;

namespace Registry.Bench.Scale;

/// <summary>Where the scale phase keeps devices: the host's embedded storage, or Azure Table/Blob storage (Azurite).</summary>
internal enum ScaleMode
{
    Memory,
    Durable,
}

/// <summary>How the fill registers devices: bulk creates of <see cref="ScaleOptions.Batch"/>, or one import job per step.</summary>
internal enum ScaleFill
{
    Bulk,
    Import,
}

/// <summary>
/// Options of the scale phase. Every run is bounded twice: by <see cref="Devices"/> and by <see cref="FillTime"/>
/// (the fill stops taking new requests once it passes; the step under way is measured and reported as partial).
/// </summary>
internal sealed record ScaleOptions
{
    public ScaleMode Mode { get; init; } = ScaleMode.Memory;
    /// <summary>
    /// <c>--fill import</c> (durable only): each step is an import job of its devices from a blob on the run's storage,
    /// the way a fleet is provisioned at scale, and the one way a durable registry reaches a million on one Azurite.
    /// </summary>
    public ScaleFill Fill { get; init; } = ScaleFill.Bulk;
    public int Devices { get; init; } = 1_000_000;
    public int Step { get; init; } = 100_000;
    public int Batch { get; init; } = 100;
    public int Concurrency { get; init; } = 16;
    public TimeSpan FillTime { get; init; } = TimeSpan.FromMinutes(8);
    /// <summary>How long each final GET/PUT phase and each storage ceiling runs.</summary>
    public TimeSpan PhaseTime { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>A cursor walk slower than this is abandoned and reported with how far it got.</summary>
    public TimeSpan WalkTime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long the idle phase waits for every device grain to be deactivated.</summary>
    public TimeSpan IdleTime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long the idle registry is kept after its measurement, for a heap snapshot (<c>--idle-hold SECONDS</c>; default none).</summary>
    public TimeSpan IdleHold { get; init; } = TimeSpan.Zero;
    public int StatisticsSamples { get; init; } = 5;
    public int PageSize { get; init; } = 1000;
    /// <summary>Null: the host's default, so the same command runs on versions whose index settings differ.</summary>
    public int? Partitions { get; init; }
    /// <summary>Durable mode against this storage instead of an Azurite the run starts itself.</summary>
    public string? Storage { get; init; }
    /// <summary>Path prefix of the report files (.md and .csv); null writes none.</summary>
    public string? Output { get; init; }
    public bool Ceilings { get; init; } = true;
    /// <summary>Host settings for the registry under test (<c>--set Registry:StorageTimeoutSeconds=30</c>, repeatable).</summary>
    public IReadOnlyDictionary<string, string?> HostSettings { get; init; } = new Dictionary<string, string?>();

    private static readonly string[] Valued = ["--mode", "--fill", "--devices", "--step", "--batch", "--concurrency", "--minutes", "--seconds",
        "--walk-minutes", "--idle-minutes", "--idle-hold", "--stats-samples", "--page", "--partitions", "--storage", "--out", "--set"];

    public static ScaleOptions Parse(string[] args)
    {
        BenchArgs.Check("scale", args, Valued, ["--no-ceilings"]);
        string? Value(string name) => BenchArgs.Value(args, name);
        int? Int(string name) => Value(name) is { } v ? BenchArgs.Int(name, v, int.MinValue) : null;
        double? Number(string name) => Value(name) is { } v
            ? double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0 && double.IsFinite(n) ? n : throw new UsageException($"{name} takes a number of at least 0, not '{v}'.")
            : null;
        var defaults = new ScaleOptions();
        var mode = Value("--mode") switch
        {
            null or "memory" => ScaleMode.Memory,
            "durable" => ScaleMode.Durable,
            var other => throw new UsageException($"--mode is memory or durable, not '{other}'."),
        };
        var fill = Value("--fill") switch
        {
            null or "bulk" => ScaleFill.Bulk,
            "import" => ScaleFill.Import,
            var other => throw new UsageException($"--fill is bulk or import, not '{other}'."),
        };
        var options = new ScaleOptions
        {
            Mode = mode,
            Fill = fill,
            Devices = Int("--devices") ?? defaults.Devices,
            Step = Int("--step") ?? defaults.Step,
            Batch = Int("--batch") ?? defaults.Batch,
            Concurrency = Int("--concurrency") ?? defaults.Concurrency,
            FillTime = Number("--minutes") is { } m ? TimeSpan.FromMinutes(m) : defaults.FillTime,
            PhaseTime = Number("--seconds") is { } s ? TimeSpan.FromSeconds(s) : defaults.PhaseTime,
            WalkTime = Number("--walk-minutes") is { } w ? TimeSpan.FromMinutes(w) : defaults.WalkTime,
            IdleTime = Number("--idle-minutes") is { } i ? TimeSpan.FromMinutes(i) : defaults.IdleTime,
            IdleHold = Number("--idle-hold") is { } h ? TimeSpan.FromSeconds(h) : defaults.IdleHold,
            StatisticsSamples = Int("--stats-samples") ?? defaults.StatisticsSamples,
            PageSize = Int("--page") ?? defaults.PageSize,
            Partitions = Int("--partitions"),
            Storage = Value("--storage"),
            Output = Value("--out"),
            Ceilings = !args.Contains("--no-ceilings"),
            HostSettings = BenchArgs.Settings(args),
        };
        if (options.Devices < 1 || options.Step < 1 || options.Batch is < 1 or > 100 || options.Concurrency < 1)
        {
            throw new UsageException("--devices, --step and --concurrency must be positive; --batch is 1..100.");
        }
        if (options.Fill == ScaleFill.Import && options.Mode != ScaleMode.Durable)
        {
            throw new UsageException("--fill import needs --mode durable: the import reads its blobs from the run's storage.");
        }
        return options;
    }
}
