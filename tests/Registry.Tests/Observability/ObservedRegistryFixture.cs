using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Registry.Gateway.Security;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Observability;

/// <summary>
/// The registry as its own process with the management port on, scraped as Prometheus does. Its own process because
/// the registry's meter is process-wide: test hosts started inside the test run would all count into one another's
/// scrapes. Registry operations are signed with a pinned owner key; job operations are limited to one an hour, so a
/// second one is refused by request count, never by timing.
/// </summary>
public sealed partial class ObservedRegistryFixture : IAsyncLifetime
{
    public const string HostName = "localhost";

    private static readonly string OwnerKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private readonly string _data = Directory.CreateTempSubdirectory("registry-observed-").FullName;
    private readonly int[] _ports = FreePorts.Take(5);
    private RegistryProcess? _process;

    public Uri HttpsAddress => new($"https://127.0.0.1:{_ports[0]}/");

    public Uri ManagementAddress => new($"http://127.0.0.1:{_ports[3]}/");

    public int MqttPort => _ports[4];

    public string Output => _process?.Output ?? "";

    public async ValueTask InitializeAsync()
    {
        _process = RegistryProcess.Start(_data,
            $"--Registry:DataFolder={_data}",
            $"--Registry:HttpsPort={_ports[0]}", $"--Registry:SiloPort={_ports[1]}", $"--Registry:GatewayPort={_ports[2]}",
            $"--Registry:MqttPort={_ports[4]}",
            $"--Registry:Observability:Port={_ports[3]}",
            $"--Registry:AccessPolicies:iothubowner:PrimaryKey={OwnerKey}",
            "--Registry:Throttling:Enabled=true",
            "--Registry:Throttling:Overrides:JobOperations=1/h");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await _process.WaitUntilListeningAsync(timeout.Token);
    }

    /// <summary>An HTTPS client signing as iothubowner, as the service SDKs do.</summary>
    public HttpClient Owner() =>
        Signed(() => SharedAccessSignature.Create(HostName, OwnerKey, SharedAccessPolicy.OwnerKeyName, DateTimeOffset.UtcNow.AddHours(1)));

    /// <summary>An HTTPS client signing as the device itself.</summary>
    public HttpClient Device(string deviceId, string deviceKey) =>
        Signed(() => SharedAccessSignature.Create($"{HostName}/devices/{deviceId}", deviceKey, null, DateTimeOffset.UtcNow.AddHours(1)));

    /// <summary>An HTTPS client without credentials.</summary>
    public HttpClient Anonymous() => new(Tls()) { BaseAddress = HttpsAddress };

    /// <summary>A plain-HTTP client of the management port, as Prometheus and probes are.</summary>
    public HttpClient Management() => new() { BaseAddress = ManagementAddress };

    /// <summary>One scrape of <c>/metrics</c>.</summary>
    public async Task<Scrape> ScrapeAsync()
    {
        using var http = Management();
        return new Scrape(await http.GetStringAsync("metrics"));
    }

    private HttpClient Signed(Func<string> authorization) =>
        new(new Signing(authorization) { InnerHandler = Tls() }) { BaseAddress = HttpsAddress };

    /// <summary>Trusts only the CA the registry generated.</summary>
    private SocketsHttpHandler Tls() => new()
    {
        SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, certificate, _, _) => Trusts(certificate) },
    };

    /// <summary>Whether <paramref name="certificate"/> chains to the CA the registry generated, as clients given NODE_EXTRA_CA_CERTS check.</summary>
    public bool Trusts(X509Certificate? certificate)
    {
        if (certificate is null)
        {
            return false;
        }
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(_data, "certs", DevelopmentCertificates.CaFileName)));
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    private sealed class Signing(Func<string> authorization) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization());
            return base.SendAsync(request, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
    }

    /// <summary>A Prometheus text exposition, read as series: name, labels, value.</summary>
    public sealed partial class Scrape(string text)
    {
        public string Text => text;

        /// <summary>
        /// The sum of <paramref name="name"/>'s series that carry every label of <paramref name="labels"/>; 0 when there
        /// is none (a counter appears once first counted).
        /// </summary>
        public double Sum(string name, params (string Label, string Value)[] labels) =>
            Series(name).Where(s => labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value)).Sum(s => s.Value);

        /// <summary>
        /// <paramref name="name"/>'s series summed by their value of <paramref name="label"/> (those without it under ""), as
        /// a dashboard's <c>sum by (label)</c> plots them.
        /// </summary>
        public Dictionary<string, double> SumBy(string name, string label) =>
            Series(name).GroupBy(s => s.Labels.GetValueOrDefault(label, ""), StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Sum(s => s.Value), StringComparer.Ordinal);

        private IEnumerable<(Dictionary<string, string> Labels, double Value)> Series(string name)
        {
            foreach (var line in text.Split('\n'))
            {
                var match = SeriesLine().Match(line);
                if (match.Success && match.Groups["name"].Value == name)
                {
                    var labels = LabelPair().Matches(match.Groups["labels"].Value).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
                    yield return (labels, double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture));
                }
            }
        }

        public bool Has(string name) => text.Split('\n').Any(l => SeriesLine().Match(l) is { Success: true } m && m.Groups["name"].Value == name);

        [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})? (?<value>\S+)( \d+)?$")]
        private static partial Regex SeriesLine();

        [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
        private static partial Regex LabelPair();
    }
}
