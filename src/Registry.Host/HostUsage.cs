using System.Reflection;

namespace Registry.Host;

/// <summary>
/// <c>--help</c> and <c>--version</c>: answered and ended before anything starts. Without them the host took both for
/// configuration it ignored and started a registry on the default ports, writing <c>registry-data/</c> and a new owner
/// key (hostile review, 2026-12-07).
/// </summary>
internal static class HostUsage
{
    private static readonly string[] HelpFlags = ["--help", "-h", "-?", "/?", "/help"];

    /// <summary>
    /// <c>--help</c> anywhere on the line (or as <c>--help=…</c>), any case, unless it is the value of the setting before it
    /// (<c>--Registry:ServiceId -h</c>): given beside settings it was the value of nothing and the registry started, and
    /// <c>--help --Registry:IndexPartitions=0</c> even took the setting for help's value (reviews, 2026-12-08). A bare
    /// <c>help</c> only alone.
    /// </summary>
    public static bool IsHelp(string[] args) =>
        args is ["help"] || Flags(args).Any(a => HelpFlags.Contains(a, StringComparer.OrdinalIgnoreCase)
            || a.StartsWith("--help=", StringComparison.OrdinalIgnoreCase));

    public static bool IsVersion(string[] args) =>
        Flags(args).Any(a => a.Equals("--version", StringComparison.OrdinalIgnoreCase) || a.StartsWith("--version=", StringComparison.OrdinalIgnoreCase));

    /// <summary>The arguments that are not the value of a setting before them (<c>--key value</c>).</summary>
    private static IEnumerable<string> Flags(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            yield return args[i];
            if (IsFlag(args[i]))
            {
                continue;
            }
            if ((args[i].StartsWith("--", StringComparison.Ordinal) || args[i].StartsWith('/')) && !args[i].Contains('=', StringComparison.Ordinal))
            {
                i++; // its value
            }
        }
    }

    private static bool IsFlag(string arg) =>
        HelpFlags.Contains(arg, StringComparer.OrdinalIgnoreCase) || arg.Equals("--version", StringComparison.OrdinalIgnoreCase);

    /// <summary>The roots a command-line setting may be under: the registry's own, and .NET's logging.</summary>
    private static readonly string[] Roots = ["Registry", "Logging"];

    /// <summary>
    /// What is wrong with the command line, read as .NET's configuration reads it (<c>--key=value</c>, <c>--key value</c>,
    /// <c>/key=value</c>, <c>key=value</c>); null when nothing. Before: a single dash (<c>-Registry:HttpsPort=1</c>) ended
    /// in .NET's FormatException with a stack (exit code 134), a last <c>--Registry:HttpsPort</c> without a value was
    /// ignored, and a misspelt root (<c>--Regsitry:HttpsPort=9443</c>) was ignored while the registry started on the
    /// default port (a review, 2026-12-08); a setting without a value took the next setting for it
    /// (<c>--Registry:DataFolder --Registry:ServiceId=zzz</c>: a folder named after the setting, a re-check). Environment
    /// variables are not checked here: a process has many that are not the registry's (names under <c>Registry</c> are,
    /// by <see cref="UnknownSettings"/>).
    /// </summary>
    public static string? ArgumentProblem(string[] args)
    {
        const string Refused = "Invalid command line, nothing was started:";
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string key;
            if (arg.StartsWith("--", StringComparison.Ordinal) || arg.StartsWith('/'))
            {
                var body = arg[(arg[0] == '/' ? 1 : 2)..];
                var equals = body.IndexOf('=', StringComparison.Ordinal);
                if (equals >= 0)
                {
                    key = body[..equals];
                }
                else if (i + 1 < args.Length && !LooksLikeSetting(args[i + 1]))
                {
                    key = body;
                    i++; // its value
                }
                else
                {
                    return $"{Refused} {arg} has no value: give it as {arg}=<value>.";
                }
            }
            else if (!arg.StartsWith('-') && arg.IndexOf('=', StringComparison.Ordinal) is > 0 and var equals)
            {
                key = arg[..equals];
            }
            else
            {
                return $"{Refused} '{arg}' is not understood: give each setting as --Registry:<Setting>=<value> (two dashes); --help lists the usual ones.";
            }
            if (key.Length == 0)
            {
                return $"{Refused} '{arg}' names no setting: give each setting as --Registry:<Setting>=<value>.";
            }
            var root = key.Split(':', 2)[0];
            if (!Roots.Contains(root, StringComparer.OrdinalIgnoreCase))
            {
                return $"{Refused} {key} is not a setting of the registry (misspelt? its settings are under Registry:, logging under Logging:); the README's Configuration section lists them.";
            }
        }
        return null;
    }

    /// <summary>A next argument that is itself a setting (<c>--Registry:…</c>, <c>/Logging:…</c>), not a value.</summary>
    private static bool LooksLikeSetting(string arg) =>
        (arg.StartsWith("--", StringComparison.Ordinal) || arg.StartsWith('/')) && Roots.Any(r => arg.AsSpan(arg[0] == '/' ? 1 : 2).StartsWith(r, StringComparison.OrdinalIgnoreCase));

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
