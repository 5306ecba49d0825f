using System.Reflection;

namespace Registry.Host;

/// <summary>
/// <c>--help</c> and <c>--version</c>: answered and ended before anything starts. Without them the host took both for
/// configuration it ignored and started a registry on the default ports, writing <c>registry-data/</c> and a new owner
/// key (hostile review, 2026-12-07).
/// </summary>
internal static class HostUsage
{
    public static bool IsHelp(string[] args) => args is ["--help" or "-h" or "-?" or "/?" or "help"];

    public static bool IsVersion(string[] args) => args is ["--version"];

    public static string Version =>
        typeof(HostUsage).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public const string Text = """
        Registry.Host: a device identity registry in the shape of Azure IoT Hub's, on Microsoft Orleans.

        Usage: dotnet Registry.Host.dll [--Registry:<Setting>=<value> ...]
               dotnet Registry.Host.dll --help | --version

        With no settings it runs the embedded default: one process, everything in memory (nothing survives a restart),
        HTTPS on https://localhost:8443, MQTT over TLS on 8883, files under ./registry-data/.

        Settings come from appsettings.json beside the binary, environment variables (Registry__HttpsPort=9443) and
        the command line (--Registry:HttpsPort=9443), the last winning. The ones most often set:
          Registry:Role                     all (default), silo or gateway
          Registry:StorageConnectionString  Azure Storage (or Azurite): durable mode
          Registry:HttpsPort, MqttPort      the device and service ports (0: a free one)
          Registry:SiloPort, GatewayPort    Orleans' ports (a cluster: each silo its own)
          Registry:ClusterId, ServiceId     which cluster a silo or gateway joins
          Registry:DataFolder               where generated keys and certificates go
          Registry:Heartbeat:IntervalSeconds, GraceSeconds
                                            the missed-heartbeat default (off unless set; 0: off;
                                            durable: the cluster's, a silo without it takes it)
        A misspelt or invalid setting stops the start with one line naming it (exit code 1).
        README.md ("Configuration") lists every setting.
        """;
}
