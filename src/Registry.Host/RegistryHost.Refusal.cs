using Azure;
using Microsoft.Extensions.Options;
using Registry.Abstractions;
using Registry.Grains.Index;

namespace Registry.Host;

public static partial class RegistryHost
{
    /// <summary>
    /// The one line an operator reads when the registry refuses to start (Program prints it and exits with code 1), or
    /// null for an exception that is a crash, not a refusal. Refusals raised inside the host's start (the silo's layout
    /// check, options validated on start) arrive wrapped.
    /// </summary>
    public static string? RefusalOf(Exception? e) => e switch
    {
        null => null,
        RegistryStartupException or IndexLayoutMismatchException => e.Message,
        // Storage that does not answer while the silo starts: the operator's to fix, not a crash to debug.
        RequestFailedException { Status: 0 or 408 or >= 500 } or StorageUnavailableException =>
            $"Storage did not answer while the registry started ({FirstLine(e.Message)}): check Registry:StorageConnectionString and that storage is up. Nothing was served.",
        // Storage that answers but refuses the account key or SAS: the operator's to fix as well.
        RequestFailedException { Status: 401 or 403 } =>
            $"Storage refused the registry's credentials while it started ({FirstLine(e.Message)}): check the account key or SAS in Registry:StorageConnectionString. Nothing was served.",
        // A gateway that found no silo within Registry:ClusterConnectTimeoutSeconds: the silos are not up, or not this cluster's.
        Orleans.Runtime.SiloUnavailableException =>
            $"No silo of the cluster answered ({FirstLine(e.Message)}): start the silos (Registry:Role=silo) with the same Registry:ClusterId, ServiceId, StoragePrefix and StorageConnectionString as this gateway. Nothing was served.",
        OptionsValidationException options => $"Invalid configuration, nothing was started: {string.Join(" ", options.Failures)}",
        AggregateException all => all.InnerExceptions.Select(RefusalOf).FirstOrDefault(m => m is not null),
        _ => RefusalOf(e.InnerException),
    };

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
