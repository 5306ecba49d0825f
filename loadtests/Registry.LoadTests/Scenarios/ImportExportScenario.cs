using System.Globalization;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Sas;
using Registry.Bench;
using Registry.Bench.Jobs;
using Registry.Bench.Scale;
using Registry.Client;
using Registry.LoadTests.Harness;

namespace Registry.LoadTests.Scenarios;

/// <summary>
/// <c>import-export</c>: the bulk-job round trip through Azure Storage. Each round starts its own Azurite (tests/node's,
/// in memory) and a durable registry process on it (the built <c>Registry.Host.dll</c>, device rows <c>Batched</c>),
/// uploads a <c>devices.txt</c> of <c>--devices</c> lines, then measures two steps of one call each: <c>import</c>
/// (create every device from the blob, as <c>ImportDevicesAsync</c> does) and <c>export</c> (write them all back
/// with their keys). Their ceilings, on the same Azurite in the same round after the registry stopped, do what storage
/// alone does with the same rows and bytes: <c>raw-scan-upload</c> reads every device row the registry wrote by range
/// scans and stages the exported bytes as blocks; <c>raw-insert</c> inserts those rows into fresh tables as
/// entity-group transactions of 100. Items are devices, so a ratio is the ceiling's wall time over the job's. The
/// checks: <c>importErrors.log</c> empty, the export holds every device, storage holds every device.
/// </summary>
internal sealed class ImportExportScenario : IScenario
{
    private const string Prefix = "ie-device-";

    private readonly int _devices;
    private readonly TimeSpan _jobTimeout;
    private readonly int _parallelism;
    private readonly string? _host;
    private readonly List<string> _notes = [];
    private readonly List<string> _problems = [];
    private readonly Dictionary<string, string?> _settings = new(StringComparer.Ordinal) { ["Registry:DeviceStorage"] = "Batched" };
    private readonly string _input = Path.Combine(Path.GetTempPath(), $"registry-import-export-{Guid.NewGuid():N}.txt");
    private int _rounds;
    private int _round;
    private Round? _current;

    public ImportExportScenario(Arguments args)
    {
        _devices = args.Int("--devices", 100_000, min: 1, max: ScenarioLimits.MaxDevices);
        _jobTimeout = args.Duration("--job-timeout", TimeSpan.FromMinutes(30), positive: true);
        _parallelism = args.Int("--ceiling-parallelism", 16, min: 1, max: ScenarioLimits.MaxParallelism);
        _host = args.String("--host");
        if (_host is not null && !File.Exists(_host))
        {
            throw new ArgumentException($"--host {_host}: no such file (a built Registry.Host.dll).");
        }
        // An empty file or a lone copy of the dll was found only after Azurite had started ("the registry exited with
        // code 1 / 131 while starting"): dotnet runs a dll from its build folder, beside its runtimeconfig.json.
        if (_host is not null && (!_host.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) || !File.Exists(Path.ChangeExtension(_host, ".runtimeconfig.json"))))
        {
            throw new ArgumentException($"--host {_host}: not the Registry.Host.dll of a build folder (no {Path.GetFileName(Path.ChangeExtension(_host, ".runtimeconfig.json"))} beside it); give the one in a copy of the whole src/Registry.Host/bin/Release/net10.0/.");
        }
        if (args.String("--device-storage") is { } storage)
        {
            if (storage is not ("Batched" or "Table" or "Blob"))
            {
                throw new ArgumentException($"--device-storage takes Batched, Table or Blob; '{storage}' is not one.");
            }
            // The ceilings read and write the Batched layout: rows by index partition group in a table of their own.
            if (storage != "Batched" && !args.Flag("--no-ceiling"))
            {
                throw new ArgumentException($"--device-storage {storage} needs --no-ceiling: the ceilings scan and insert the Batched layout's rows.");
            }
            _settings["Registry:DeviceStorage"] = storage;
        }
        if (args.String("--index-partitions") is not null)
        {
            var partitions = args.Int("--index-partitions", 256, min: 1);
            if (partitions > Registry.Host.RegistrySettings.MaxIndexPartitions)
            {
                throw new ArgumentException($"--index-partitions takes 1 to {Registry.Host.RegistrySettings.MaxIndexPartitions}; {partitions} is more.");
            }
            _settings["Registry:IndexPartitions"] = partitions.ToString(CultureInfo.InvariantCulture);
        }
        if (args.String("--storage-groups") is not null)
        {
            var groups = args.Int("--storage-groups", Registry.Host.StorageGroups.DefaultCount, min: 1);
            if (groups > Registry.Host.StorageGroups.MaxCount)
            {
                throw new ArgumentException($"--storage-groups takes 1 to {Registry.Host.StorageGroups.MaxCount}; {groups} is more.");
            }
            // The registry's layout and the ceilings' rows alike.
            _settings["Registry:StorageGroups"] = groups.ToString(CultureInfo.InvariantCulture);
        }
        if (args.String("--storage-tables") is not null)
        {
            var tables = args.Int("--storage-tables", Registry.Host.StorageTables.DefaultCount, min: 1);
            if (tables > Registry.Host.StorageTables.MaxCount)
            {
                throw new ArgumentException($"--storage-tables takes 1 to {Registry.Host.StorageTables.MaxCount}; {tables} is more.");
            }
            // The registry's layout and the ceilings' tables alike.
            _settings["Registry:StorageTables"] = tables.ToString(CultureInfo.InvariantCulture);
        }
        if (args.String("--model") is not null)
        {
            throw new ArgumentException("import-export runs one job at a time, each step one call: --model does not apply.");
        }
        // Each step is one job run to its end: the run's bounds would be reported without bounding anything.
        foreach (var bound in new[] { "--duration", "--warmup", "--count", "--drain", "--ceiling-duration" })
        {
            if (args.String(bound) is not null)
            {
                throw new ArgumentException($"import-export runs each step as one job to its end (bounded by --job-timeout): {bound} does not apply.");
            }
        }
    }

    /// <summary>One job at a time: each step is one call carrying every device.</summary>
    public LoadModel DefaultModel => LoadModel.Closed(1);

    public IReadOnlyList<string> Notes => _notes;

    public async Task<IReadOnlyList<Step>> PrepareAsync(ScenarioContext context, CancellationToken cancel)
    {
        _rounds = context.Options.Rounds;
        var ceiling = context.Options.Ceiling;
        var bytes = RegistryJob.WriteDevices(_input, _devices, Prefix);
        var storage = ceiling
            ? string.Create(CultureInfo.InvariantCulture, $"ceilings {_parallelism} storage requests in flight")
            : string.Create(CultureInfo.InvariantCulture, $"no ceilings (--no-ceiling); stored rows counted by {_parallelism} range scans in flight");
        _notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"{_devices:N0} devices in devices.txt ({bytes / 1e6:F1} MB: create mode, SAS keys given); registry settings {string.Join(", ", _settings.Select(kv => $"{kv.Key}={kv.Value}"))}; {storage}"));
        _notes.Add("each round starts its own Azurite (in memory) and registry process; both appear among the run's other processes");
        _current = await Round.StartAsync(++_round, _input, _settings, _host, context.Log, cancel);
        _notes.Add($"round {_round}: {_current.Description}");

        // Every step carries all the devices in one call: its bounds are the job's, its drain the job's timeout.
        // The drain outlasts the job's own bound and the cancel that follows it, so a job past --job-timeout is reported by
        // its call, named as such, not cut off as "no answer before the drain ended" (a hostile review, 2026-12-04).
        var oneCall = new RunBounds(_jobTimeout, _devices, TimeSpan.Zero, _jobTimeout + RegistryJob.CancelWait + TimeSpan.FromSeconds(30));
        Step OneCall(string name, Func<long, CancellationToken, ValueTask<string?>> call) => new(name, call)
        {
            ItemsPerCall = _devices,
            Bounds = oneCall,
            WarmUp = false,
            Model = LoadModel.Closed(1),
        };
        var steps = new List<Step>
        {
            OneCall("import", (_, token) => _current!.JobAsync("import", _jobTimeout, token)) with
            {
                Description = "an import job creating every device of devices.txt, from `POST /jobs/create` until `GET /jobs/{id}` says completed",
                After = async token => await _current!.CheckImportErrorsAsync(_notes, _problems, token),
            },
            OneCall("export", (_, token) => _current!.ImportCompleted ? _current.JobAsync("export", _jobTimeout, token) : NotRun) with
            {
                Description = "an export job writing every device with its keys to devices.txt",
                // Untimed: read back what the export wrote, then stop the registry so the ceilings have storage to themselves.
                // Without ceilings, the rows in storage are counted here instead of by the scan ceiling.
                After = async token =>
                {
                    if (!_current!.ImportCompleted)
                    {
                        return; // the import's failure is the round's: nothing to compare the export or storage with
                    }
                    await _current!.AfterExportAsync(_devices, _notes, _problems, token);
                    if (!ceiling)
                    {
                        await _current!.CountStoredRowsAsync(_parallelism, _devices, _notes, _problems);
                    }
                },
            },
        };
        if (context.Options.Ceiling)
        {
            steps.Add(OneCall("raw-scan-upload", (_, _) => _current!.ImportCompleted ? _current.ScanAndUploadAsync(_parallelism, _devices, _notes, _problems) : NotRun) with
            {
                CeilingOf = "export",
                Description = "storage alone doing the export's work: every device row read by parallel range scans of its PartitionKey, and the exported bytes staged as 4 MiB blocks and committed",
                After = async _ => await _current!.ClearForInsertCeilingAsync(),
            });
            steps.Add(OneCall("raw-insert", (_, _) => _current!.ImportCompleted ? _current.InsertAsync(_parallelism) : NotRun) with
            {
                CeilingOf = "import",
                Description = "storage alone doing the import's writes: the same device rows and index entries inserted into fresh tables as entity-group transactions of 100",
            });
        }
        // The round's last step starts the next round on a fresh Azurite and registry: rounds never see each other's devices.
        steps[^1] = steps[^1] with { After = ChainAfter(steps[^1].After, context.Log) };
        return steps;
    }

    /// <summary>
    /// A step after an import that did not complete: its items would count devices that were never stored (an export of
    /// 3,000 devices counted as 10,000 and divided by a ceiling's scan of the same 3,000; a hostile review, 2026-12-04).
    /// </summary>
    internal const string NotRunReason = "not run: the round's import did not complete";

    private static ValueTask<string?> NotRun => ValueTask.FromResult<string?>(NotRunReason);

    private Func<CancellationToken, Task> ChainAfter(Func<CancellationToken, Task>? after, Action<string> log) => async token =>
    {
        if (after is not null)
        {
            await after(token);
        }
        if (_round < _rounds && !token.IsCancellationRequested)
        {
            var previous = _current!;
            _current = null;
            await previous.DisposeAsync();
            _current = await Round.StartAsync(++_round, _input, _settings, _host, log, token);
            _notes.Add($"round {_round}: {_current.Description}");
        }
    };

    public Task<IReadOnlyList<string>> VerifyAsync(CancellationToken cancel) => Task.FromResult<IReadOnlyList<string>>(_problems);

    public bool StepsBoundThemselves => true;

    public async ValueTask DisposeAsync()
    {
        if (_current is not null)
        {
            await _current.DisposeAsync();
        }
        File.Delete(_input);
    }

    /// <summary>One round's storage and registry, and what the steps hand each other (the exported bytes, the rows read).</summary>
    private sealed class Round : IAsyncDisposable
    {
        private readonly AzuriteProcess _azurite;
        private readonly string _name;
        private readonly BlobContainerClient _output;
        private readonly BlobContainerClient _ceiling;
        private readonly string _inputSas;
        private readonly string _outputSas;
        private readonly TableServiceClient _tables;
        private RegistryProcess? _registry;
        private HttpClient? _http;
        private ReadOnlyMemory<byte> _exported;
        private List<TableEntity>[] _rows = [];
        private Registry.Host.StorageGroups _groups = Registry.Host.StorageGroups.Default;
        private int _partitions = new Registry.Host.RegistrySettings().IndexPartitions;
        private int _tableCount = Registry.Host.StorageTables.DefaultCount;
        private string _layout = "Batched";

        private Round(AzuriteProcess azurite, string name, BlobContainerClient output, BlobContainerClient ceiling, string inputSas, string outputSas)
        {
            _azurite = azurite;
            _name = name;
            _output = output;
            _ceiling = ceiling;
            _inputSas = inputSas;
            _outputSas = outputSas;
            _tables = new TableServiceClient(azurite.ConnectionString);
        }

        public string Description { get; private set; } = "";

        public int Number { get; private init; }

        /// <summary>True once this round's import job completed: the export, its checks and the ceilings compare with it.</summary>
        public bool ImportCompleted { get; private set; }

        public static async Task<Round> StartAsync(int number, string input, IReadOnlyDictionary<string, string?> settings, string? host, Action<string> log, CancellationToken cancel)
        {
            var azurite = await AzuriteProcess.StartAsync(cancel);
            try
            {
                var blobs = new BlobServiceClient(azurite.ConnectionString);
                var containers = new[] { "input", "output", "ceiling" }.Select(blobs.GetBlobContainerClient).ToArray();
                foreach (var container in containers)
                {
                    await container.CreateAsync(cancellationToken: cancel);
                }
                await containers[0].GetBlobClient("devices.txt").UploadAsync(input, new Azure.Storage.Blobs.Models.BlobUploadOptions
                {
                    TransferOptions = new Azure.Storage.StorageTransferOptions { MaximumConcurrency = 4, MaximumTransferSize = 4 << 20 },
                }, cancel);
                var expires = DateTimeOffset.UtcNow.AddHours(12);
                var round = new Round(azurite, $"ie{number}{Guid.NewGuid():N}"[..10], containers[1], containers[2],
                    containers[0].GenerateSasUri(BlobContainerSasPermissions.Read | BlobContainerSasPermissions.List, expires).ToString(),
                    containers[1].GenerateSasUri(BlobContainerSasPermissions.Read | BlobContainerSasPermissions.Write | BlobContainerSasPermissions.Create
                        | BlobContainerSasPermissions.Add | BlobContainerSasPermissions.List | BlobContainerSasPermissions.Delete, expires).ToString())
                {
                    Number = number,
                    _groups = settings.TryGetValue("Registry:StorageGroups", out var groups) && groups is not null
                        ? new Registry.Host.StorageGroups(int.Parse(groups, CultureInfo.InvariantCulture)) : Registry.Host.StorageGroups.Default,
                    _partitions = settings.TryGetValue("Registry:IndexPartitions", out var partitions) && partitions is not null
                        ? int.Parse(partitions, CultureInfo.InvariantCulture) : new Registry.Host.RegistrySettings().IndexPartitions,
                    _tableCount = settings.TryGetValue("Registry:StorageTables", out var tables) && tables is not null
                        ? int.Parse(tables, CultureInfo.InvariantCulture) : Registry.Host.StorageTables.DefaultCount,
                    _layout = settings.TryGetValue("Registry:DeviceStorage", out var layout) && layout is not null ? layout : "Batched",
                };
                round._registry = await RegistryProcess.StartAsync(round._name, azurite.ConnectionString, settings, host, cancel);
                round._http = BenchHost.CreateClient(round._registry.CaPath, 4);
                round.Description = $"Azurite process {azurite.ProcessId}, registry process {round._registry.ProcessId} (its log {round._registry.LogPath})";
                log(round.Description);
                return round;
            }
            catch
            {
                await azurite.DisposeAsync();
                throw;
            }
        }

        /// <summary>Runs an import (from the input container) or an export (keys included) to its end: null when it completed.</summary>
        public async ValueTask<string?> JobAsync(string type, TimeSpan timeout, CancellationToken cancel)
        {
            var body = new JsonObject { ["type"] = type, ["outputBlobContainerUri"] = _outputSas };
            if (type == "import")
            {
                body["inputBlobContainerUri"] = _inputSas;
            }
            else
            {
                body["excludeKeysInExport"] = false;
            }
            var job = await RegistryJob.RunAsync(_http!, _registry!.BaseAddress, body, timeout, null, cancel, cancelled: said => GivenUp = said);
            var status = (string)job["status"]!;
            if (type == "import")
            {
                ImportCompleted = status == "completed";
            }
            return status switch
            {
                "completed" => null,
                "failed" or "cancelled" => $"{type} job {status}: {job["failureReason"]}",
                // Still running at --job-timeout: RunAsync asked the registry to cancel it.
                _ => string.Create(CultureInfo.InvariantCulture, $"{type} job not completed within --job-timeout {timeout.TotalSeconds:0.###}s (cancelled)"),
            };
        }

        /// <summary>What was said of a job this round gave up on (stopped, or past --job-timeout): its progress and its cancel's answer.</summary>
        public string? GivenUp { get; private set; }

        public async Task CheckImportErrorsAsync(List<string> notes, List<string> problems, CancellationToken cancel)
        {
            if (!ImportCompleted)
            {
                // Checked as if it had passed before (a review stopped a run mid-import and read "0 bytes (expected empty)").
                notes.Add(string.Create(CultureInfo.InvariantCulture,
                    $"round {Number} check: the import did not complete, so importErrors.log was not checked{(GivenUp is { } said ? $"; {said}" : "")}"));
                return;
            }
            var log = _output.GetBlobClient("importErrors.log");
            var size = (await log.ExistsAsync(cancel)).Value ? (await log.GetPropertiesAsync(cancellationToken: cancel)).Value.ContentLength : -1;
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"round {Number} check: importErrors.log {(size < 0 ? "missing" : $"{size:N0} bytes")} (expected empty)"));
            if (size != 0)
            {
                problems.Add(size < 0 ? "the import wrote no importErrors.log" : $"importErrors.log holds {size:N0} bytes (every line was valid)");
            }
        }

        public async Task AfterExportAsync(int devices, List<string> notes, List<string> problems, CancellationToken cancel)
        {
            var blob = _output.GetBlobClient("devices.txt");
            _exported = (await blob.ExistsAsync(cancel)).Value ? (await blob.DownloadContentAsync(cancel)).Value.Content.ToMemory() : ReadOnlyMemory<byte>.Empty;
            var lines = _exported.Span.Count((byte)'\n');
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"round {Number} check: the export holds {lines:N0} devices ({_exported.Length / 1e6:F1} MB; expected {devices:N0})"));
            if (lines != devices)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"the export holds {lines:N0} devices, {devices:N0} were imported (devices.txt's lines)"));
            }
            _http?.Dispose();
            _http = null;
            if (_registry is not null)
            {
                await _registry.DisposeAsync();
                _registry = null;
            }
        }

        public async ValueTask<string?> ScanAndUploadAsync(int parallelism, int devices, List<string> notes, List<string> problems)
        {
            await CountStoredRowsAsync(parallelism, devices, notes, problems);
            await JobCeilings.UploadAsync(_ceiling, "devices.txt", _exported, 4 << 20, parallelism);
            return null;
        }

        /// <summary>
        /// Counts the devices in storage and checks the count. In the Batched layout every device row is read by range
        /// scans (the scan ceiling's work, kept for the insert ceiling); in the Table layout the entities of Orleans'
        /// device table are counted, in the Blob layout the blobs of its device container (docs/storage.md §3). Those two
        /// have no rows to scan by group: the scans asked for the Batched table, which they never create, and the run
        /// ended on its 404 (a hostile review, 2026-12-04).
        /// </summary>
        public async Task CountStoredRowsAsync(int parallelism, int devices, List<string> notes, List<string> problems)
        {
            var prefix = "bench" + _name;
            long stored;
            string what;
            if (_layout == "Table")
            {
                stored = 0;
                await foreach (var _ in _tables.GetTableClient(RegistryClusterNames.TablePrefix(prefix) + "Devices").QueryAsync<TableEntity>(select: ["PartitionKey"]))
                {
                    stored++;
                }
                what = "device entities (Table layout)";
            }
            else if (_layout == "Blob")
            {
                stored = 0;
                await foreach (var _ in new BlobServiceClient(_azurite.ConnectionString).GetBlobContainerClient($"{prefix}-devices".ToLowerInvariant()).GetBlobsAsync())
                {
                    stored++;
                }
                what = "device blobs (Blob layout)";
            }
            else
            {
                var (_, rows) = await JobCeilings.ScanAsync(Registry.Host.StorageTables.Of(_tables, prefix + "DeviceRows", _tableCount), _groups, _partitions, parallelism);
                _rows = rows;
                stored = rows.Sum(r => r.Count);
                what = "device rows";
            }
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"round {Number} check: storage holds {stored:N0} {what} (expected {devices:N0})"));
            if (stored != devices)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"storage holds {stored:N0} {what}, {devices:N0} were imported"));
            }
        }

        /// <summary>Storage as it was when the import began (the input blob only), so the insert ceiling meets the same Azurite.</summary>
        public async Task ClearForInsertCeilingAsync()
        {
            await _output.DeleteAsync();
            foreach (var table in new[] { "DeviceRows", "Index" })
            {
                for (var t = 0; t < _tableCount; t++)
                {
                    await _tables.DeleteTableAsync(Registry.Host.StorageTables.Name("bench" + _name + table, t));
                }
            }
        }

        public async ValueTask<string?> InsertAsync(int parallelism)
        {
            await JobCeilings.InsertAsync(_tables, "ceil" + _name, _rows, parallelism, _tableCount);
            return null;
        }

        public async ValueTask DisposeAsync()
        {
            _http?.Dispose();
            if (_registry is not null)
            {
                await _registry.DisposeAsync();
            }
            await _azurite.DisposeAsync();
        }
    }
}
