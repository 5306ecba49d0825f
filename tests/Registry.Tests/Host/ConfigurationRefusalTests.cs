using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Host;

/// <summary>
/// A setting the registry cannot run with stops the real process at start with exit code 1 and one line naming the
/// setting and what it accepts: no stack trace, nothing written, nothing served.
/// </summary>
public sealed class ConfigurationRefusalTests(AzuriteFixture azurite)
{
    [Theory(Timeout = 120_000)]
    [InlineData("IndexPartitions=0", "Registry:IndexPartitions=0")]
    [InlineData("DeviceStorage=Cosmos", "Registry:DeviceStorage=Cosmos")]
    [InlineData("Authentication:Enabled=maybe", "Registry:Authentication:Enabled")]
    [InlineData("Throttling:Tier=S9", "Registry:Throttling:Tier")]
    [InlineData("AccessPolicies:foo:PrimaryKey=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "Registry:AccessPolicies:foo is not usable")]
    [InlineData("CertificatePath=/nonexistent.pfx", "Registry:CertificatePath=/nonexistent.pfx does not exist")]
    [InlineData("StorageConnectionString=garbage", "Registry:StorageConnectionString is not an Azure Storage connection string")]
    [InlineData("StoragePrefix=BAD PREFIX!", "Registry:StoragePrefix=BAD PREFIX!")]
    [InlineData("Heartbeat:GraceSeconds=30", "Registry:Heartbeat:GraceSeconds=30 is set without Registry:Heartbeat:IntervalSeconds")]
    [InlineData("Role=client", "Registry:Role=client is not a role")]
    [InlineData("SiloPort=0", "Registry:SiloPort=0 cannot pick a free port")]
    // Hostile review, 2026-12-07: a misspelt name was ignored (monitoring quietly off).
    [InlineData("Heartbeat:IntervalSecond=30", "Registry:Heartbeat:IntervalSecond is not a setting")]
    [InlineData("IndexPartiton=8", "Registry:IndexPartiton is not a setting")]
    public async Task An_invalid_setting_stops_the_process_with_exit_code_1_and_one_line_naming_it_and_writes_nothing(string setting, string named)
    {
        var ct = TestContext.Current.CancellationToken;
        var (work, data, args) = WithSetting(setting);
        await using var host = RegistryProcess.Start(work, args);

        await SecondStartTests.AssertRefusedInOneLineAsync(host, named, data, ct);
    }

    /// <summary>A host's arguments (free ports, a data folder not yet made) with <paramref name="setting"/> added.</summary>
    private static (string Work, string Data, string[] Args) WithSetting(string setting)
    {
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var data = Path.Combine(work, "data");
        // Several settings are separated by '|'.
        return (work, data, [.. SecondStartTests.Arguments(data, FreePorts.Take(3)), .. setting.Split('|').Select(s => $"--Registry:{s}")]);
    }

    /// <summary>
    /// Every other setting the host refuses, through the same <see cref="RegistryHost.Build"/> and
    /// <see cref="RegistryHost.RefusalOf"/> that Program runs, in this process: the theory above shows, for one setting of
    /// each kind (a range, a value that does not bind, a file, a connection string, a role, a port), that the process
    /// prints that line alone and exits with code 1; each of these starting its own process cost the suite about a minute.
    /// </summary>
    [Theory(Timeout = 60_000)]
    [InlineData("IndexPartitions=100000", "Registry:IndexPartitions=100000")]
    [InlineData("StorageTimeoutSeconds=0", "Registry:StorageTimeoutSeconds=0")]
    [InlineData("StorageTimeoutSeconds=-5", "Registry:StorageTimeoutSeconds=-5")]
    [InlineData("ShutdownTimeoutSeconds=-1", "Registry:ShutdownTimeoutSeconds=-1")]
    [InlineData("HttpsPort=70000", "Registry:HttpsPort=70000")]
    [InlineData("MqttPort=-1", "Registry:MqttPort=-1")]
    [InlineData("MqttConnectTimeoutSeconds=0", "Registry:MqttConnectTimeoutSeconds=0")]
    [InlineData("MqttMaxConnections=0", "Registry:MqttMaxConnections=0 must be at least 1")]
    [InlineData("MqttSessionRefreshSeconds=-1", "Registry:MqttSessionRefreshSeconds=-1 is out of range: use 0 (never) to 3600 seconds")]
    [InlineData("ListenBacklog=0", "Registry:ListenBacklog=0 is out of range")]
    [InlineData("MaxActiveJobs=0", "Registry:MaxActiveJobs=0 must be at least 1")]
    [InlineData("ImportChunksInFlight=0", "Registry:ImportChunksInFlight=0 is out of range: use 1 to 64")]
    [InlineData("ImportChunksInFlight=65", "Registry:ImportChunksInFlight=65 is out of range: use 1 to 64")]
    [InlineData("ImportChunkLines=0", "Registry:ImportChunkLines=0 is out of range: use 1 to 100000")]
    [InlineData("ImportChunkLines=100001", "Registry:ImportChunkLines=100001 is out of range: use 1 to 100000")]
    [InlineData("StorageRequestsInFlight=0", "Registry:StorageRequestsInFlight=0 is out of range: use 1 to 256")]
    [InlineData("GrainStorageRequestsInFlight=0", "Registry:GrainStorageRequestsInFlight=0 is out of range: use 1 to 4096")]
    [InlineData("GrainStorageRequestsInFlight=4097", "Registry:GrainStorageRequestsInFlight=4097 is out of range: use 1 to 4096")]
    [InlineData("DirectoryCacheSize=0", "Registry:DirectoryCacheSize=0 is out of range: use 16 to 10000000")]
    [InlineData("DirectoryCacheSize=10000001", "Registry:DirectoryCacheSize=10000001 is out of range")]
    [InlineData("JobHistoryDays=0", "Registry:JobHistoryDays=0 must be a number of days above 0")]
    [InlineData("JobHistoryDays=NaN", "Registry:JobHistoryDays=NaN must be a number of days above 0")]
    [InlineData("Throttling:Tier=99", "Registry:Throttling:Tier=99 is not one of")]
    [InlineData("Throttling:Units=0", "Registry:Throttling:Units must be at least 1")]
    [InlineData("Throttling:Overrides:RegistryOperations=0/min", "Registry:Throttling:Overrides:RegistryOperations '0/min' is not a rate")]
    [InlineData("Throttling:Overrides:RegistryOperations=-5/s", "Registry:Throttling:Overrides:RegistryOperations '-5/s' is not a rate")]
    [InlineData("IndexPartitions=1025", "Registry:IndexPartitions=1025 is out of range: use 1 to 1024")]
    [InlineData("StorageGroups=0", "Registry:StorageGroups=0 is out of range: use 1 to 1024")]
    [InlineData("StorageGroups=1025", "Registry:StorageGroups=1025 is out of range: use 1 to 1024")]
    [InlineData("StorageTables=0", "Registry:StorageTables=0 is out of range: use 1 to 64 (the default is 1)")]
    [InlineData("StorageTables=65", "Registry:StorageTables=65 is out of range: use 1 to 64 (the default is 1)")]
    [InlineData("StorageTables=33", "Registry:StorageTables=33 is more than Registry:StorageGroups=32: storage group g is in table g mod StorageTables, so table 32 would never hold a row")]
    [InlineData("StorageTables=64", "Registry:StorageTables=64 is more than Registry:StorageGroups=32: storage group g is in table g mod StorageTables, so tables 32 to 63 would never hold a row")]
    [InlineData("ShutdownTimeoutSeconds=1e300", "Registry:ShutdownTimeoutSeconds=1E+300")]
    [InlineData("StorageTimeoutSeconds=1e300", "Registry:StorageTimeoutSeconds=1E+300")]
    [InlineData("StorageTimeoutSeconds=3601", "Registry:StorageTimeoutSeconds=3601")]
    [InlineData("StorageTimeoutSeconds=0.00000001", "Registry:StorageTimeoutSeconds=1E-08")]
    [InlineData("Throttling:Tier=6", "Registry:Throttling:Tier=6 is not one of")]
    [InlineData("Heartbeat:GraceSeconds=-3", "Registry:Heartbeat:GraceSeconds=-3 is out of range: use 0 to 86400 seconds.")] // said as unset interval (a review)
    [InlineData("Heartbeat:IntervalSeconds=-1", "Registry:Heartbeat:IntervalSeconds=-1 is out of range: use 1 to 86400 seconds, or 0 for monitoring off")]
    [InlineData("Heartbeat:IntervalSeconds=0|Heartbeat:GraceSeconds=30", "Registry:Heartbeat:GraceSeconds=30 is set with Registry:Heartbeat:IntervalSeconds=0 (monitoring off)")]
    [InlineData("Heartbeat:IntervalSeconds=86401", "Registry:Heartbeat:IntervalSeconds=86401 is out of range")]
    [InlineData("Heartbeat:IntervalSeconds=1.5", "Registry:Heartbeat:IntervalSeconds")]
    [InlineData("StoragePrefix=1registry", "Registry:StoragePrefix=1registry")]
    [InlineData("StoragePrefix=reg--istry", "Registry:StoragePrefix=reg--istry")]
    [InlineData("StoragePrefix=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Registry:StoragePrefix=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    [InlineData("Role=gateway", "Registry:Role=gateway needs Registry:StorageConnectionString")]
    [InlineData("Role=silo", "Registry:Role=silo needs Registry:StorageConnectionString")]
    [InlineData("HealthPort=70000", "Registry:HealthPort=70000")]
    [InlineData("AccessPolicyRefreshSeconds=0", "Registry:AccessPolicyRefreshSeconds=0")]
    [InlineData("ProbeTimeoutSeconds=0.1", "Registry:ProbeTimeoutSeconds=0.1 must be a number of seconds from 0.5 to 60")]
    [InlineData("MissedProbesLimit=0", "Registry:MissedProbesLimit=0 must be from 1 to 10")]
    [InlineData("ResponseTimeoutSeconds=0.5", "Registry:ResponseTimeoutSeconds=0.5 must be a number of seconds from 1 to 600")]
    [InlineData("ResponseTimeoutSeconds=601", "Registry:ResponseTimeoutSeconds=601 must be a number of seconds from 1 to 600")]
    [InlineData("GatewayPort=0", "Registry:GatewayPort=0 cannot pick a free port")]
    // Hostile review, stop 31: each of these crashed the start with a stack trace (exit 134). 192.0.2.1 is a
    // documentation address (RFC 5737), never one of this machine's.
    [InlineData("DeviceIdleMinutes=1", "Registry:DeviceIdleMinutes=1 must be a number of minutes above 1")] // crashed the silo's start
    [InlineData("DeviceIdleMinutes=0.5", "Registry:DeviceIdleMinutes=0.5 must be a number of minutes above 1")]
    [InlineData("DeviceIdleMinutes=1e300", "Registry:DeviceIdleMinutes=1E+300 must be a number of minutes above 1")]
    [InlineData("ListenAddress=192.0.2.1", "Registry:HttpsPort 192.0.2.1:")]
    [InlineData("ListenAddress=::ffff:192.0.2.1", "the address is not one of this machine's")] // bind: invalid argument (re-check)
    [InlineData("ListenAddress=fe80::1", "the address is not one of this machine's")] // link-local without a scope
    [InlineData("ListenAddress=224.0.0.1", "the address is not one of this machine's")] // multicast: binds, serves no one
    [InlineData("ListenAddress=255.255.255.255", "the address is not one of this machine's")]
    [InlineData("ListenAddress=127.255.255.255", "the address is not one of this machine's")] // loopback's broadcast (second re-check)
    [InlineData("ListenAddress=fe80::1%99", "the address is not one of this machine's")] // a scope naming no interface
    [InlineData("Observability:Port=19999|Observability:ListenAddress=192.0.2.1", "Registry:Observability:Port 192.0.2.1:19999: the address is not one of this machine's")]
    [InlineData("DataFolder=/dev/null/registry", "Registry:DataFolder=/dev/null/registry cannot be used as the data folder")]
    [InlineData("DataFolder=/proc/registry", "Registry:DataFolder=/proc/registry cannot be used as the data folder")]
    // A value the binder cannot convert is said as every other refusal, with what is accepted and no .NET type name
    // (it was "Failed to convert configuration value 'abc' at 'Registry:HealthPort' to type 'System.Int32'": a review).
    [InlineData("HealthPort=abc", "Invalid configuration, nothing was started: Registry:HealthPort=abc is not a port number: use a whole number from 0 to 65535.")]
    [InlineData("IndexPartitions=many", "Invalid configuration, nothing was started: Registry:IndexPartitions=many is not a whole number: use a whole number.")]
    [InlineData("StorageTables=99999999999", "Invalid configuration, nothing was started: Registry:StorageTables=99999999999 is out of range: use a whole number within the setting's range (the README's settings table).")]
    [InlineData("IndexPartitions=-99999999999", "Invalid configuration, nothing was started: Registry:IndexPartitions=-99999999999 is out of range: use a whole number within the setting's range (the README's settings table).")]
    [InlineData("Authentication:Enabled=maybe", "Invalid configuration, nothing was started: Registry:Authentication:Enabled=maybe is not true or false: use true or false.")]
    // Hostile review, 2026-12-05: hexadecimal was taken for a whole number (IndexPartitions=0x10 recorded 16, for the
    // storage's life), and a host name with ',' or ';' crashed the start after writing the policy file and the CA.
    [InlineData("IndexPartitions=0x10", "Invalid configuration, nothing was started: Registry:IndexPartitions=0x10 is not a whole number: use a whole number.")]
    [InlineData("HttpsPort=0x5555", "Invalid configuration, nothing was started: Registry:HttpsPort=0x5555 is not a port number: use a whole number from 0 to 65535.")]
    [InlineData("Heartbeat:IntervalSeconds=0x3c", "Invalid configuration, nothing was started: Registry:Heartbeat:IntervalSeconds=0x3c is not a whole number: use a whole number.")]
    // Hostile review, 2026-12-05: a setting taking a number said "is not a number: use a number" for a value that is none,
    // and its range only once given a number outside it.
    [InlineData("JobHistoryDays=abc", "Invalid configuration, nothing was started: Registry:JobHistoryDays=abc is not a number: use a number of days above 0 (at most 36500).")]
    [InlineData("Authentication:DeviceCacheSeconds=ten", "Invalid configuration, nothing was started: Registry:Authentication:DeviceCacheSeconds=ten is not a number: use a number of seconds from 0 to 3600.")]
    // A review (2026-12-08): each crashed the start with a stack (exit code 134) after files were written.
    [InlineData("Authentication:DeviceCacheSeconds=1e12", "Registry:Authentication:DeviceCacheSeconds=1000000000000 must be a number of seconds from 0 to 3600")]
    [InlineData("AdvertisedAddress=0.0.0.0", "Registry:AdvertisedAddress=0.0.0.0 is no address the other silos can reach")]
    [InlineData("AdvertisedAddress=::", "Registry:AdvertisedAddress=:: is no address the other silos can reach")]
    // A re-check (2026-12-08): broadcast crashed the same way; multicast and the mapped any-address bound and joined.
    [InlineData("AdvertisedAddress=255.255.255.255", "Registry:AdvertisedAddress=255.255.255.255 is no address the other silos can reach")]
    [InlineData("AdvertisedAddress=224.0.0.1", "Registry:AdvertisedAddress=224.0.0.1 is no address the other silos can reach")]
    [InlineData("AdvertisedAddress=ff02::1", "Registry:AdvertisedAddress=ff02::1 is no address the other silos can reach")]
    [InlineData("AdvertisedAddress=::ffff:0.0.0.0", "Registry:AdvertisedAddress=::ffff:0.0.0.0 is no address the other silos can reach")]
    [InlineData("presencepersistseconds=1m", "Invalid configuration, nothing was started: Registry:PresencePersistSeconds=1m is not a number: use a number of seconds from 1 to 3600.")]
    [InlineData("OutboxSweepSeconds=0", "Invalid configuration, nothing was started: Registry:OutboxSweepSeconds=0 must be a number of seconds from 1 to 3600.")]
    [InlineData("OutboxSweepSeconds=30s", "Invalid configuration, nothing was started: Registry:OutboxSweepSeconds=30s is not a number: use a number of seconds from 1 to 3600.")]
    [InlineData("StorageTimeoutSeconds=5s", "Invalid configuration, nothing was started: Registry:StorageTimeoutSeconds=5s is not a number: use a number of seconds from 0.1 to 3600.")]
    [InlineData("HostName=host,x=y", "Registry:HostName=host,x=y is not a host name")]
    [InlineData("HostName=bad host;x=y", "Registry:HostName=bad host;x=y is not a host name")]
    [InlineData("HostName=a b", "Registry:HostName=a b is not a host name")]
    [InlineData("HostName=a_b", "Registry:HostName=a_b is not a host name")] // taken before (a review, 2026-12-07)
    public async Task An_invalid_setting_is_refused_with_one_line_naming_it_before_anything_is_written(string setting, string named)
    {
        var ct = TestContext.Current.CancellationToken;
        var (_, data, args) = WithSetting(setting);

        var refused = await Record.ExceptionAsync(async () =>
        {
            await using var app = RegistryHost.Build(args);
            await app.StartAsync(ct); // not refused: started, and stopped again below
            await app.StopAsync(ct);
        });

        var line = RegistryHost.RefusalOf(refused);
        Assert.True(line is not null, $"the start was not refused with a line: {refused}");
        Assert.DoesNotContain('\n', line);
        Assert.Contains(named, line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data), "the refused start created the data folder");
    }

    /// <summary>A review (2026-12-07): the refusal of a policy name ended in .NET's "(Parameter 'keyName')".</summary>
    [Fact]
    public async Task A_pinned_policy_with_a_bad_name_is_refused_in_one_sentence_without_dotnets_parameter_name()
    {
        var (_, _, args) = WithSetting("AccessPolicies:bad name:PrimaryKey=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=|AccessPolicies:bad name:Rights=RegistryRead");

        var refused = await Record.ExceptionAsync(async () =>
        {
            await using var app = RegistryHost.Build(args);
            await app.StartAsync(TestContext.Current.CancellationToken);
        });

        Assert.EndsWith("Registry:AccessPolicies:bad name is not usable: Policy name 'bad name' must be 1-64 ASCII letters, digits, '-', '_' or '.'.",
            RegistryHost.RefusalOf(refused), StringComparison.Ordinal);
    }

    /// <summary>Every setting that takes a number (a <see cref="double"/>, at any depth of the settings): its path.</summary>
    public static TheoryData<string> NumberSettings()
    {
        var paths = new TheoryData<string>();
        void Walk(Type type, string prefix)
        {
            foreach (var property in type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance).Where(p => p.CanWrite))
            {
                if (property.PropertyType == typeof(double))
                {
                    paths.Add(prefix + property.Name);
                }
                else if (property.PropertyType.Assembly == typeof(RegistrySettings).Assembly && property.PropertyType.IsClass)
                {
                    Walk(property.PropertyType, $"{prefix}{property.Name}:");
                }
            }
        }
        Walk(typeof(RegistrySettings), "");
        return paths;
    }

    /// <summary>A value that is no number names what the setting accepts, as an out-of-range number does, for every such setting.</summary>
    [Theory(Timeout = 60_000)]
    [MemberData(nameof(NumberSettings))]
    public async Task A_setting_taking_a_number_given_none_is_refused_with_its_range(string path)
    {
        var ct = TestContext.Current.CancellationToken;
        var (_, data, args) = WithSetting($"{path}=abc");

        var refused = await Record.ExceptionAsync(async () =>
        {
            await using var app = RegistryHost.Build(args);
            await app.StartAsync(ct);
            await app.StopAsync(ct);
        });

        var line = RegistryHost.RefusalOf(refused);
        Assert.StartsWith($"Invalid configuration, nothing was started: Registry:{path}=abc is not a number: use a number of ", line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data), "the refused start created the data folder");
    }

    /// <summary>
    /// A review (2026-12-07) restarted a silo after a <c>kill -9</c> during an Azurite stall: Orleans' blob storage provider,
    /// initializing as the silo started, threw the Azure SDK's "Retry failed after 3 tries" of timed-out tries, and the
    /// process ended with an unhandled exception (exit code 134, ~400 lines of stack) instead of the one line a start
    /// storage does not answer gets. Here the same SDK meets a listener that accepts and never answers.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task Storage_requests_whose_every_try_timed_out_refuse_the_start_with_the_storage_line()
    {
        using var silent = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var options = new Azure.Storage.Blobs.BlobClientOptions();
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromMilliseconds(10);
        options.Retry.NetworkTimeout = TimeSpan.FromMilliseconds(200);
        var container = new Azure.Storage.Blobs.BlobContainerClient(
            new Uri($"http://127.0.0.1:{port}/devstoreaccount1/registry"), new Azure.Storage.StorageSharedKeyCredential("devstoreaccount1", Convert.ToBase64String(new byte[64])), options);

        var refused = await Record.ExceptionAsync(() => container.CreateIfNotExistsAsync(cancellationToken: TestContext.Current.CancellationToken));

        Assert.IsType<AggregateException>(refused);
        var line = RegistryHost.RefusalOf(refused);
        Assert.True(line is not null, $"the start was not refused with a line: {refused}");
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("Storage did not answer while the registry started (Retry failed after 3 tries.", line, StringComparison.Ordinal);
    }

    /// <summary>
    /// The start checks its ports are free, then binds them later; another process can take one in between (a review's
    /// start lost its silo port to an outgoing connection in the ephemeral range, and died with an unhandled
    /// AddressInUseException, exit 134). That is said in one line like the check's own refusal.
    /// </summary>
    [Theory(Timeout = 120_000)]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_port_taken_after_the_check_and_before_the_host_binds_it_is_refused_with_one_line_naming_it(int taken)
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var ports = FreePorts.Take(3);
        using var squatter = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);

        var refused = await Record.ExceptionAsync(async () =>
        {
            await using var app = RegistryHost.Build(SecondStartTests.Arguments(Path.Combine(work, "data"), ports));
            squatter.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Any, ports[taken]));
            squatter.Listen();
            await RegistryHost.RunToExitAsync(app, TextWriter.Null).WaitAsync(ct);
        });

        var line = RegistryHost.RefusalOf(refused);
        Assert.True(line is not null, $"the start was not refused with a line: {refused}");
        Assert.DoesNotContain('\n', line);
        // Kestrel names the address it could not bind; Orleans does not, so its two ports are named.
        var named = taken == 0 ? $"Registry:HttpsPort 127.0.0.1:{ports[0]}" : $"Registry:SiloPort 127.0.0.1:{ports[1]} or Registry:GatewayPort 127.0.0.1:{ports[2]}";
        Assert.StartsWith($"Another process took {named} while the registry started", line, StringComparison.Ordinal);
    }

    [Theory(Timeout = 120_000)]
    [InlineData(1, "Registry:SiloPort")]
    [InlineData(2, "Registry:GatewayPort")]
    public async Task An_https_port_equal_to_the_hosts_own_silo_or_gateway_port_is_refused_with_one_line_before_anything_is_written(int clash, string other)
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var data = Path.Combine(work, "data");
        var ports = FreePorts.Take(3);
        ports[0] = ports[clash];
        await using var host = RegistryProcess.Start(work, SecondStartTests.Arguments(data, ports));

        await SecondStartTests.AssertRefusedInOneLineAsync(host, $"Registry:HttpsPort and {other} are both port {ports[0]}", data, ct);
    }

    /// <summary>
    /// The defect this guards: the management port was left out of the clash check, so the start wrote the policy file,
    /// the certificates and the index layout record, then died on Kestrel's bind with an unhandled IOException (exit 134).
    /// </summary>
    [Theory(Timeout = 120_000)]
    [InlineData(0, "Registry:HttpsPort")]
    [InlineData(1, "Registry:SiloPort")]
    [InlineData(2, "Registry:GatewayPort")]
    [InlineData(3, "Registry:MqttPort")]
    public async Task A_management_port_equal_to_one_of_the_hosts_own_ports_is_refused_with_one_line_before_anything_is_written(int clash, string other)
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var data = Path.Combine(work, "data");
        var ports = FreePorts.Take(4);
        string[] args = [.. SecondStartTests.Arguments(data, ports[..3]), $"--Registry:MqttPort={ports[3]}", $"--Registry:Observability:Port={ports[clash]}"];
        await using var host = RegistryProcess.Start(work, args);

        await SecondStartTests.AssertRefusedInOneLineAsync(host, $"{other} and Registry:Observability:Port are both port {ports[clash]}", data, ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_silos_management_port_equal_to_its_health_port_is_refused_with_one_line_before_anything_is_written()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var data = Path.Combine(work, "data");
        var ports = FreePorts.Take(4);
        string[] args =
        [
            .. SecondStartTests.Arguments(data, ports[..3]), "--Registry:Role=silo", $"--Registry:StorageConnectionString={azurite.ConnectionString}",
            $"--Registry:HealthPort={ports[3]}", $"--Registry:Observability:Port={ports[3]}",
        ];
        await using var host = RegistryProcess.Start(work, args);

        await SecondStartTests.AssertRefusedInOneLineAsync(host, $"Registry:HealthPort and Registry:Observability:Port are both port {ports[3]}", data, ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_certificate_file_that_is_not_a_pfx_stops_the_process_with_exit_code_1_and_one_line_naming_it_and_writes_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var data = Path.Combine(work, "data");
        var pfx = Path.Combine(work, "server.pfx");
        await File.WriteAllTextAsync(pfx, "not a certificate", ct);
        string[] args = [.. SecondStartTests.Arguments(data, FreePorts.Take(3)), $"--Registry:CertificatePath={pfx}", "--Registry:CertificatePassword=secret"];
        await using var host = RegistryProcess.Start(work, args);

        await SecondStartTests.AssertRefusedInOneLineAsync(host, $"Registry:CertificatePath={pfx} cannot be loaded with Registry:CertificatePassword", data, ct);
    }

    /// <summary>A review (2026-12-08): the silo started, wrote the policy file and the lock, then Kestrel's refusal ended the process with a stack (exit code 134).</summary>
    [Fact(Timeout = 120_000)]
    public Task A_certificate_file_without_its_private_key_stops_the_process_with_exit_code_1_and_one_line_naming_it_and_writes_nothing() =>
        AssertCertificateRefusedAsync(request =>
        {
            using var withKey = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
            return X509CertificateLoader.LoadCertificate(withKey.RawData);
        }, "holds a certificate without its private key", TestContext.Current.CancellationToken);

    /// <summary>A re-check (2026-12-08): a PFX for client authentication only started the silo, then Kestrel's refusal crashed it (exit code 134).</summary>
    [Fact(Timeout = 120_000)]
    public Task A_certificate_not_for_server_authentication_stops_the_process_with_exit_code_1_and_one_line_naming_it_and_writes_nothing() =>
        AssertCertificateRefusedAsync(request =>
        {
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")], critical: false));
            return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        }, "holds a certificate whose extended key usage does not allow server authentication", TestContext.Current.CancellationToken);

    /// <summary>A host given the PFX of <paramref name="make"/>'s certificate (CN=localhost, RSA) exits 1 with one line saying <paramref name="said"/>, writing nothing.</summary>
    private static async Task AssertCertificateRefusedAsync(Func<CertificateRequest, X509Certificate2> make, string said, CancellationToken ct)
    {
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var data = Path.Combine(work, "data");
        var pfx = Path.Combine(work, "server.pfx");
        using (var key = System.Security.Cryptography.RSA.Create(2048))
        {
            using var certificate = make(new CertificateRequest("CN=localhost", key,
                System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1));
            await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pkcs12, "secret"), ct);
        }
        string[] args = [.. SecondStartTests.Arguments(data, FreePorts.Take(3)), $"--Registry:CertificatePath={pfx}", "--Registry:CertificatePassword=secret"];
        await using var host = RegistryProcess.Start(work, args);

        await SecondStartTests.AssertRefusedInOneLineAsync(host, $"Registry:CertificatePath={pfx} {said}", data, ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_policy_file_with_no_policy_stops_the_process_with_exit_code_1_naming_the_file_and_writes_no_certificate()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var data = Path.Combine(work, "data");
        Directory.CreateDirectory(data);
        var file = Path.Combine(data, AccessPolicyStore.FileName);
        await File.WriteAllTextAsync(file, """{"policies":[]}""", ct);
        string[] args = [.. SecondStartTests.Arguments(data, FreePorts.Take(3))[..^1], "--Registry:Authentication:Enabled=true"];
        await using var host = RegistryProcess.Start(work, args);

        var exitCode = await SecondStartTests.ExitCodeUnlessListening(host, ct);

        Assert.Equal(1, exitCode);
        Assert.Contains($"The access policy file {file} is not usable: it lists no policy.", host.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", host.Output, StringComparison.Ordinal);
        Assert.Equal("""{"policies":[]}""", await File.ReadAllTextAsync(file, ct));
        Assert.False(Directory.Exists(Path.Combine(data, "certs")), "the refused start generated certificates");
    }

    /// <summary>
    /// The defect this guards: a start with another ServiceId read every device from rows that do not hold it, and the
    /// index verification pass then dropped every entry for good (devices readable by id, but never listed or counted).
    /// </summary>
    [Fact(Timeout = 300_000)]
    public async Task A_durable_start_with_another_service_id_device_storage_partition_count_or_storage_prefix_exits_1_and_the_registry_keeps_every_device()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var data = Path.Combine(work, "data");
        var prefix = "sid-" + Guid.NewGuid().ToString("N")[..8];
        string[] Durable(params string[] extra) =>
        [
            .. SecondStartTests.Arguments(data, FreePorts.Take(3)),
            $"--Registry:StorageConnectionString={azurite.ConnectionString}",
            $"--Registry:StoragePrefix={prefix}",
            $"--Registry:ClusterId={prefix}",
            $"--Registry:ServiceId={prefix}",
            .. extra,
        ];
        var ids = Enumerable.Range(0, 10).Select(i => $"sv{i}").ToArray();
        await using (var first = RegistryProcess.Start(work, Durable()))
        {
            await first.WaitUntilListeningAsync(ct);
            using var http = SecondStartTests.Client(first, data);
            foreach (var id in ids)
            {
                Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync($"devices/{id}?api-version=2021-04-12", new { deviceId = id }, ct)).StatusCode);
            }
            Assert.Equal(0, await first.TerminateAsync(ct));
        }

        (string Setting, string Stored, string Configured)[] wrong =
        [
            ("ServiceId", prefix, prefix + "x"),
            ("DeviceStorage", "Table", "Blob"),
            ("IndexPartitions", "4", "8"),
            // The same tables (table names drop hyphens), other containers and queues: a Blob registry restarted so lost
            // every index entry to its verification (a review, 2026-12-08).
            ("StoragePrefix", prefix, prefix.Replace("-", "", StringComparison.Ordinal)),
            // Other letters: Azurite tells table names' case apart, and such a start crashed on a table "not found" (a re-check, 2026-12-08).
            ("StoragePrefix", prefix, prefix.ToUpperInvariant()),
        ];
        foreach (var (setting, stored, configured) in wrong)
        {
            await using var refused = RegistryProcess.Start(work, Durable($"--Registry:{setting}={configured}"));
            var exitCode = await SecondStartTests.ExitCodeUnlessListening(refused, ct);

            Assert.Equal(1, exitCode);
            Assert.Contains($"{setting}={stored}, but this silo is configured with", refused.Output, StringComparison.Ordinal);
            Assert.Contains($"{setting}={configured}", refused.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", refused.Output, StringComparison.Ordinal);
        }

        // Another registry whose prefix names the same tables (a table name keeps only letters and digits): it found no
        // layout record under its own container name, so it started, and its verification dropped every index entry of
        // this registry's devices (a review's 6,819 devices answered 404 after a restart). Now it meets this registry's record.
        var sameTables = prefix.Replace("-", "", StringComparison.Ordinal);
        await using (var other = RegistryProcess.Start(work, Durable($"--Registry:StoragePrefix={sameTables}", $"--Registry:ClusterId={sameTables}", $"--Registry:ServiceId={sameTables}")))
        {
            var exitCode = await SecondStartTests.ExitCodeUnlessListening(other, ct);

            Assert.Equal(1, exitCode);
            Assert.Contains($"ServiceId={prefix}, but this silo is configured with", other.Output, StringComparison.Ordinal);
        }

        await using var again = RegistryProcess.Start(work, Durable());
        await again.WaitUntilListeningAsync(ct);
        using var client = SecondStartTests.Client(again, data);
        var stats = await client.GetFromJsonAsync<JsonObject>("statistics/devices?api-version=2021-04-12", ct);
        Assert.Equal(ids.Length, (long)stats!["totalDeviceCount"]!);
        var listed = await client.GetFromJsonAsync<JsonArray>("devices?api-version=2021-04-12", ct);
        Assert.Equal(ids, listed!.Select(d => (string)d!["deviceId"]!).Order(StringComparer.Ordinal));
        Assert.Equal(0, await again.TerminateAsync(ct));
    }

    /// <summary>
    /// Storage down whole, or only its blob service while the table service answers (a re-check found the check probed
    /// tables alone, so that start ran Orleans' providers, printed 422 lines and wrote its data folder).
    /// </summary>
    [Theory(Timeout = 180_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_durable_start_whose_storage_does_not_answer_exits_1_with_a_line_naming_the_connection_string_and_no_stack_trace(bool tablesAnswer)
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var closed = FreePorts.Take(1)[0]; // nobody listens there
        var endpoint = $"http://127.0.0.1:{closed}/devstoreaccount1";
        var tables = tablesAnswer
            ? System.Text.RegularExpressions.Regex.Match(azurite.ConnectionString, "TableEndpoint=([^;]+)").Groups[1].Value
            : endpoint;
        string[] args = [.. SecondStartTests.Arguments(Path.Combine(work, "data"), FreePorts.Take(3)),
            $"--Registry:StorageConnectionString=DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint={endpoint};QueueEndpoint={endpoint};TableEndpoint={tables};",
            "--Registry:StorageTimeoutSeconds=1"];
        await using var host = RegistryProcess.Start(work, args);

        var exitCode = await SecondStartTests.ExitCodeUnlessListening(host, ct);

        Assert.Equal(1, exitCode);
        var last = host.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
        Assert.Contains("Storage did not answer while the registry started", last, StringComparison.Ordinal);
        Assert.Contains("Registry:StorageConnectionString", last, StringComparison.Ordinal);
        AssertRefusedBeforeOrleans(host.Output, Path.Combine(work, "data"));
    }

    /// <summary>
    /// A storage endpoint that answers, but not as the service named: the table endpoint on Azurite's blob port, or the
    /// blob endpoint on its table port. Hostile review, 2026-12-05: the check took any answer for storage's, so Orleans'
    /// providers crashed the start (exit 134, stack traces) after the data folder, its lock and certificates were written.
    /// </summary>
    [Theory(Timeout = 180_000)]
    [InlineData("TableEndpoint", "BlobEndpoint", "Table")]
    [InlineData("BlobEndpoint", "TableEndpoint", "Blob")]
    // Re-check of the fix: the queue service answers the container listing with a success the blob client cannot read,
    // and so does a plain HTTP server answering 200 (exit 134 both).
    [InlineData("BlobEndpoint", "QueueEndpoint", "Blob")]
    [InlineData("TableEndpoint", "plain", "Table")]
    [InlineData("BlobEndpoint", "plain", "Blob")]
    public async Task A_durable_start_whose_storage_endpoint_is_another_service_exits_1_with_a_line_naming_the_endpoint_and_no_stack_trace(
        string endpoint, string pointedAt, string service)
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        await using var plain = pointedAt == "plain" ? new StubHttpServer("hello\n") : null;
        var other = plain is not null
            ? plain.Address + "/devstoreaccount1"
            : System.Text.RegularExpressions.Regex.Match(azurite.ConnectionString, $"{pointedAt}=([^;]+)").Groups[1].Value;
        var connection = System.Text.RegularExpressions.Regex.Replace(azurite.ConnectionString, $"{endpoint}=[^;]+", $"{endpoint}={other}");

        var last = await RefusedStartLineAsync(work, connection, ct);

        Assert.StartsWith($"Storage at {other.TrimEnd('/')} did not answer as the Azure {service} service while the registry started (", last, StringComparison.Ordinal);
        Assert.Contains($"check the {service}Endpoint and account in Registry:StorageConnectionString", last, StringComparison.Ordinal);
    }

    /// <summary>
    /// Starts a durable host on <paramref name="connection"/> in its own process; asserts it exits with code 1 before
    /// Orleans started and wrote anything, and returns its last line.
    /// </summary>
    private static async Task<string> RefusedStartLineAsync(string work, string connection, CancellationToken ct)
    {
        string[] args = [.. SecondStartTests.Arguments(Path.Combine(work, "data"), FreePorts.Take(3)),
            $"--Registry:StorageConnectionString={connection}"];
        await using var host = RegistryProcess.Start(work, args);

        var exitCode = await SecondStartTests.ExitCodeUnlessListening(host, ct);

        Assert.True(exitCode == 1, $"exit code {exitCode}: {host.Output}");
        AssertRefusedBeforeOrleans(host.Output, Path.Combine(work, "data"));
        return host.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1];
    }

    /// <summary>
    /// Storage checked before Orleans starts: the refusal is all the operator reads (Orleans' providers each logged
    /// their stack traces first, some 600 lines), and the data folder was never created.
    /// </summary>
    private static void AssertRefusedBeforeOrleans(string output, string dataFolder)
    {
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.DoesNotContain("fail:", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dataFolder), "the refused start created its data folder");
    }

    [Fact(Timeout = 180_000)]
    public async Task A_durable_start_whose_storage_refuses_the_account_key_exits_1_with_a_line_naming_the_credentials_and_no_stack_trace()
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        // The real Azurite, signed with a key that is not its account's.
        var wrongKey = Convert.ToBase64String(new byte[64]);
        var connection = System.Text.RegularExpressions.Regex.Replace(azurite.ConnectionString, "AccountKey=[^;]+", "AccountKey=" + wrongKey);

        var last = await RefusedStartLineAsync(work, connection, ct);

        Assert.Contains("Storage refused the registry's credentials while it started", last, StringComparison.Ordinal);
        Assert.Contains("Registry:StorageConnectionString", last, StringComparison.Ordinal);
    }
}
