using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Orleans.Dashboard;
using Registry.Abstractions.Diagnostics;

namespace Registry.Host;

/// <summary>
/// How the registry is watched, whatever the process hosts (a silo, the HTTPS gateway, or both): OpenTelemetry metrics
/// (the registry's meter, Orleans', ASP.NET Core's) with a Prometheus endpoint on a management port and OTLP export by
/// setting; traces when exported; liveness and readiness probes; the OpenAPI document; the Orleans Dashboard behind
/// authentication, shown by the processes that serve HTTPS from what the silos collect. <see cref="AddRegistryObservability"/>
/// runs once Orleans (silo or client) is configured, <see cref="MapRegistryObservability"/> once the registry's endpoints are mapped.
/// </summary>
public static class Observability
{
    public const string MetricsPath = "/metrics";
    public const string LivenessPath = "/healthz";
    public const string ReadinessPath = "/readyz";
    public const string OpenApiPath = "/openapi/v1.json";
    public const string DashboardPath = "/dashboard";

    /// <summary>Orleans' meter and activity sources.</summary>
    public const string OrleansMeter = "Microsoft.Orleans";
    private static readonly string[] OrleansActivitySources = ["Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application"];

    private const string ReadyTag = "ready";

    /// <summary>OpenTelemetry's setting for how long an OTLP export waits for the collector, in milliseconds.</summary>
    public const string OtlpTimeoutKey = "OTEL_EXPORTER_OTLP_TIMEOUT";

    // servesEdge: whether this process serves HTTPS (roles all and gateway), the only place the dashboard is shown.
    // shutdownTimeout: Registry:ShutdownTimeoutSeconds, which bounds the exporters' last export at a stop.
    public static WebApplicationBuilder AddRegistryObservability(this WebApplicationBuilder builder, bool servesEdge, TimeSpan shutdownTimeout)
    {
        var settings = ObservabilitySettings.Bind(builder.Configuration.GetSection(RegistrySettings.Section));
        settings.Validate(servesEdge);
        builder.Services.AddSingleton(settings);
        var hostsSilo = builder.Services.Any(d => d.ServiceType == typeof(ILocalSiloDetails));

        if (settings.Port > 0)
        {
            // HTTP/1.1 only: what Prometheus and probes speak, and no TLS to configure on a port that carries no secret.
            builder.WebHost.ConfigureKestrel(kestrel =>
                kestrel.Listen(IPAddress.Parse(settings.ListenAddress), settings.Port, listen => listen.Protocols = HttpProtocols.Http1));
            builder.Services.AddTransient<IStartupFilter>(_ => new ManagementPortGate(settings.Port));
        }

        var otlp = settings.Otlp.Endpoint is { Length: > 0 } || builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] is { Length: > 0 };
        if (settings.Port > 0 || otlp)
        {
            var telemetry = builder.Services.AddOpenTelemetry()
                // Stable across restarts where the management port names the process (target_info would gain a series per
                // restart with the process id); the process id only when metrics are pushed without a port.
                .ConfigureResource(resource => resource.AddService("Registry.Orleans",
                    serviceInstanceId: $"{Dns.GetHostName()}:{(settings.Port > 0 ? settings.Port : Environment.ProcessId)}"))
                .WithMetrics(metrics =>
                {
                    metrics.AddMeter(RegistryMetrics.MeterName, OrleansMeter).AddAspNetCoreInstrumentation();
                    metrics.AddView(WithoutAddresses);
                    if (settings.Port > 0)
                    {
                        // Uncached: a scrape shows every change made before it (the default caches 300 ms).
                        metrics.AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
                    }
                });
            if (otlp)
            {
                // Traces only when they leave the process: listening to Orleans' sources creates an activity per grain call.
                telemetry.WithTracing(tracing => tracing.AddSource(OrleansActivitySources).AddAspNetCoreInstrumentation());
                // Each export waits for the collector at most half the stop's bound: the traces' and the metrics' last exports
                // run as the process is disposed, after the stop, and with OpenTelemetry's 10 s a collector that accepted
                // and never answered held a stop at ShutdownTimeoutSeconds=2 for 13-14 s (hostile review, 2026-12-05).
                // OpenTelemetry reads its OTEL_* settings from the host's configuration: an operator's shorter timeout stays.
                var exportTimeout = (int)Math.Clamp(shutdownTimeout.TotalMilliseconds / 2, 100, 10_000);
                if (!(int.TryParse(builder.Configuration[OtlpTimeoutKey], NumberStyles.None, CultureInfo.InvariantCulture, out var configured)
                    && configured > 0 && configured <= exportTimeout))
                {
                    builder.Configuration.AddInMemoryCollection([new(OtlpTimeoutKey, exportTimeout.ToString(CultureInfo.InvariantCulture))]);
                }
                if (settings.Otlp.Endpoint is { Length: > 0 } endpoint)
                {
                    telemetry.UseOtlpExporter(settings.Otlp.Protocol == "grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf, new Uri(endpoint));
                }
                else
                {
                    telemetry.UseOtlpExporter();
                }
                // A trace follows a request through the grains it calls, across silos.
                if (hostsSilo)
                {
                    builder.UseOrleans(silo => silo.AddActivityPropagation());
                }
                else
                {
                    builder.UseOrleansClient(client => client.AddActivityPropagation());
                }
            }
        }

        builder.Services.AddHealthChecks()
            .AddCheck<ClusterReadiness>("cluster", tags: [ReadyTag])
            .AddCheck<StorageReadiness>("storage", tags: [ReadyTag]);
        // The REST surface only: the dashboard's own routes are not the registry's API, nor are the probes (the operator's,
        // listed with /readyz in the README; the liveness endpoint alone showed up here, as a mapped API).
        builder.Services.AddOpenApi(o => o.ShouldInclude = d =>
            d.RelativePath?.StartsWith(DashboardPath[1..], StringComparison.OrdinalIgnoreCase) != true
            && !string.Equals(d.RelativePath, LivenessPath[1..], StringComparison.OrdinalIgnoreCase));

        if (settings.Dashboard.Enabled)
        {
            // Silos collect the dashboard's statistics (its grains, its grain service on every silo, its call filter),
            // a silo alone included, without showing them: a gateway (an Orleans client) shows what they collect and
            // collects nothing itself, so it needs every silo of its cluster to have the dashboard enabled.
            if (hostsSilo)
            {
                builder.UseOrleans(silo => silo.AddDashboard());
            }
            else
            {
                builder.UseOrleansClient(client => client.AddDashboard());
            }
            if (servesEdge)
            {
                builder.Services.AddTransient<IStartupFilter>(_ => new DashboardAuthentication(settings.Dashboard));
            }
        }
        return builder;
    }

    /// <summary>
    /// Kestrel's connection instruments without <c>server.address</c>/<c>server.port</c>, the tags they may carry otherwise.
    /// </summary>
    private static readonly string[] KestrelTags =
        ["network.transport", "network.type", "network.protocol.name", "network.protocol.version", "tls.protocol.version", "error.type"];

    /// <summary>
    /// Keeps addresses out of the labels, so the series stay bounded: Orleans labels its message sizes (<c>silo</c>) and
    /// pings (<c>Destination</c>) with the remote silo's address, a new one per silo incarnation, so every restart added
    /// series to every other silo's metrics; they are aggregated over the silos here. Kestrel labels its connection
    /// instruments with the listen address and port. Everything else passes as it is (null: no view).
    /// </summary>
    private static MetricStreamConfiguration? WithoutAddresses(Instrument instrument) => (instrument.Meter.Name, instrument.Name) switch
    {
        (OrleansMeter, "orleans-messaging-sent-messages-size" or "orleans-messaging-received-messages-size") =>
            new MetricStreamConfiguration { TagKeys = ["ConnectionDirection", "MessageDirection"] },
        (OrleansMeter, _) when instrument.Name.StartsWith("orleans-messaging-pings-", StringComparison.Ordinal) =>
            new MetricStreamConfiguration { TagKeys = [] },
        ("Microsoft.AspNetCore.Server.Kestrel", _) => new MetricStreamConfiguration { TagKeys = KestrelTags },
        _ => null,
    };

    // servesEdge: whether this process serves HTTPS; a silo alone never shows the dashboard on its plain health port.
    public static WebApplication MapRegistryObservability(this WebApplication app, bool servesEdge)
    {
        var settings = app.Services.GetRequiredService<ObservabilitySettings>();
        if (settings.Port > 0)
        {
            app.MapPrometheusScrapingEndpoint(MetricsPath);
        }
        // Read-only documents: GET and HEAD, as the gateway's /healthz; any other method is 405 (a POST to /readyz
        // answered 200, a HEAD of the OpenAPI document 405).
        var readOnly = new HttpMethodMetadata([HttpMethods.Get, HttpMethods.Head]);
        // The gateway maps its own liveness; a process without the gateway's endpoints still answers probes.
        if (!((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>().Any(e => e.RoutePattern.RawText == LivenessPath))
        {
            app.MapHealthChecks(LivenessPath, new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteHealth }).WithMetadata(readOnly);
        }
        app.MapHealthChecks(ReadinessPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResultStatusCodes = { [HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable },
            ResponseWriter = WriteHealth,
        }).WithMetadata(readOnly);
        app.MapOpenApi(OpenApiPath).WithMetadata(readOnly);
        if (settings.Dashboard.Enabled && servesEdge)
        {
            app.MapOrleansDashboard(DashboardPath);
        }
        return app;
    }

    /// <summary>
    /// <c>Healthy</c>, or <c>Unhealthy</c> and one line per failing check (<c>storage: storage is not reachable</c>): the
    /// checks' own descriptions, which say what is wrong and never where or with which key.
    /// </summary>
    private static Task WriteHealth(HttpContext context, HealthReport report)
    {
        var text = new StringBuilder(report.Status.ToString());
        foreach (var (name, entry) in report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy).OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            text.Append('\n').Append(name).Append(": ").Append(entry.Description ?? entry.Status.ToString());
        }
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text.ToString());
    }

    /// <summary>
    /// The management port serves the metrics and the probes only, and the metrics nowhere else: the registry API never
    /// answers over plain HTTP, and the HTTPS port never shows metrics to anonymous callers. By the port the connection
    /// arrived on, not the Host header, which a proxy or a port mapping changes.
    /// </summary>
    private sealed class ManagementPortGate(int port) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                var path = context.Request.Path;
                var probe = path.Equals(LivenessPath, StringComparison.OrdinalIgnoreCase) || path.Equals(ReadinessPath, StringComparison.OrdinalIgnoreCase);
                var metrics = path.Equals(MetricsPath, StringComparison.OrdinalIgnoreCase);
                var management = context.Connection.LocalPort == port;
                if (!probe && metrics != management)
                {
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return Task.CompletedTask;
                }
                // The scraping endpoint is mapped for every method; a scrape is a GET (or HEAD), as the probes beside it are.
                if (metrics && !HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
                {
                    context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
                    context.Response.Headers.Allow = "GET, HEAD";
                    return Task.CompletedTask;
                }
                return nextMiddleware(context);
            });
            next(app);
        };
    }

    /// <summary>
    /// HTTP basic authentication in front of the dashboard, ahead of the whole pipeline: a browser prompts for it, a
    /// registry SAS token it could not mint. The password is compared in constant time; it travels over TLS only, as the
    /// dashboard is not served on the plain management port.
    /// </summary>
    private sealed class DashboardAuthentication(DashboardSettings settings) : IStartupFilter
    {
        private readonly byte[] _expected = Encoding.UTF8.GetBytes($"{settings.UserName}:{settings.Password}");

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (context.Request.Path.StartsWithSegments(DashboardPath, StringComparison.OrdinalIgnoreCase) && !IsAuthorized(context.Request))
                {
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    context.Response.Headers.WWWAuthenticate = "Basic realm=\"Registry dashboard\", charset=\"UTF-8\"";
                    return Task.CompletedTask;
                }
                return nextMiddleware(context);
            });
            next(app);
        };

        private bool IsAuthorized(HttpRequest request)
        {
            var header = request.Headers.Authorization.ToString();
            const string scheme = "Basic ";
            if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
            byte[] given;
            try
            {
                given = Convert.FromBase64String(header[scheme.Length..].Trim());
            }
            catch (FormatException)
            {
                return false;
            }
            return CryptographicOperations.FixedTimeEquals(given, _expected);
        }
    }
}
