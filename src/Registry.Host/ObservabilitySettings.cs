using System.Net;

namespace Registry.Host;

/// <summary>
/// What an operator watches the registry with, bound from <c>Registry:Observability</c>, <c>Registry:Otlp</c> and
/// <c>Registry:Dashboard</c>: apart from the registry's settings, as these concern every role (silo, gateway, both) alike.
/// Everything is off until set, so a registry that is not watched pays nothing for it.
/// </summary>
public sealed class ObservabilitySettings
{
    public const string Section = "Observability";

    /// <summary>
    /// The plain-HTTP management port serving <c>/metrics</c> (Prometheus), <c>/healthz</c> and <c>/readyz</c>, and nothing
    /// else. 0 (the default): no such port, and no Prometheus exporter.
    /// </summary>
    public int Port { get; set; }

    /// <summary>The management port's address: loopback unless opened on purpose (0.0.0.0 in a container).</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary><c>Registry:Otlp</c>: where metrics and traces are pushed.</summary>
    public OtlpSettings Otlp { get; set; } = new();

    /// <summary><c>Registry:Dashboard</c>: the Orleans Dashboard.</summary>
    public DashboardSettings Dashboard { get; set; } = new();

    /// <summary>Binds the three sections of <paramref name="registry"/> (the <c>Registry</c> section).</summary>
    public static ObservabilitySettings Bind(IConfiguration registry)
    {
        var settings = RegistrySettings.Bind<ObservabilitySettings>(registry.GetSection(Section));
        settings.Otlp = RegistrySettings.Bind<OtlpSettings>(registry.GetSection(OtlpSettings.Section));
        settings.Dashboard = RegistrySettings.Bind<DashboardSettings>(registry.GetSection(DashboardSettings.Section));
        return settings;
    }

    /// <summary>
    /// Refuses settings it cannot run with, each problem on one line naming the setting, like the registry's own. The
    /// dashboard's credential is required where the dashboard is shown (<paramref name="servesEdge"/>), not on a silo
    /// alone, which only collects for it and need not hold the password.
    /// </summary>
    public void Validate(bool servesEdge = true)
    {
        var problems = new List<string>();
        if (Port is < 0 or > IPEndPoint.MaxPort)
        {
            problems.Add($"Registry:Observability:Port {Port} is not a port (1-65535, or 0 for none).");
        }
        if (!IPAddress.TryParse(ListenAddress, out _))
        {
            problems.Add($"Registry:Observability:ListenAddress '{ListenAddress}' is not an IP address (e.g. 127.0.0.1 or 0.0.0.0).");
        }
        if (Otlp.Endpoint is { Length: > 0 } endpoint
            && !(Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            problems.Add($"Registry:Otlp:Endpoint '{endpoint}' is not an http(s) URL (e.g. http://collector:4317).");
        }
        if (Otlp.Protocol is not ("grpc" or "http/protobuf"))
        {
            problems.Add($"Registry:Otlp:Protocol '{Otlp.Protocol}' is not one of grpc, http/protobuf.");
        }
        if (Dashboard.Enabled && servesEdge)
        {
            if (string.IsNullOrWhiteSpace(Dashboard.UserName) || Dashboard.UserName.Contains(':', StringComparison.Ordinal))
            {
                problems.Add("Registry:Dashboard:UserName must be set, without ':', when the dashboard is enabled.");
            }
            // Whitespace does not count: sixteen spaces, or a short password padded with them, guards nothing.
            if ((Dashboard.Password?.Count(c => !char.IsWhiteSpace(c)) ?? 0) < DashboardSettings.MinPasswordLength)
            {
                problems.Add($"Registry:Dashboard:Password must be set, at least {DashboardSettings.MinPasswordLength} characters besides whitespace, when the dashboard is enabled: it shows every grain, device ids included.");
            }
        }
        if (problems.Count > 0)
        {
            throw new RegistryStartupException($"Invalid configuration, nothing was started: {string.Join(" ", problems)}");
        }
    }
}

/// <summary>OTLP export of metrics and traces; the standard <c>OTEL_EXPORTER_OTLP_*</c> variables work as well.</summary>
public sealed class OtlpSettings
{
    public const string Section = "Otlp";

    /// <summary>The collector's base URL (e.g. http://collector:4317); unset, nothing is pushed unless OTEL_EXPORTER_OTLP_ENDPOINT is set.</summary>
    public string? Endpoint { get; set; }

    /// <summary><c>grpc</c> (default, port 4317) or <c>http/protobuf</c> (port 4318).</summary>
    public string Protocol { get; set; } = "grpc";
}

/// <summary>
/// The Orleans Dashboard at <c>/dashboard/</c> on the HTTPS port, behind HTTP basic authentication. Enabled on every
/// process of a cluster: silos collect what it shows (a silo alone shows nothing), and processes serving HTTPS show it.
/// </summary>
public sealed class DashboardSettings
{
    public const string Section = "Dashboard";

    public const int MinPasswordLength = 16;

    /// <summary>
    /// Off by default: on a silo it costs a grain-call filter on every call (which times the call while a dashboard is
    /// being read, and only checks a flag otherwise), a grain, a grain service and a metrics reader ticking every second;
    /// shown, it shows grain (device) ids.
    /// </summary>
    public bool Enabled { get; set; }

    public string UserName { get; set; } = "operator";

    public string? Password { get; set; }
}
