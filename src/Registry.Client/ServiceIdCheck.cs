using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Registry.Abstractions;

namespace Registry.Client;

/// <summary>
/// A client of the cluster given another <c>Registry:ServiceId</c> than its silos: Orleans lets a client join by ClusterId
/// alone, and such a gateway served the cluster while naming another service (a review found it). Thrown by the client's
/// start before anything is served; the message is the one line an operator reads.
/// </summary>
public sealed class RegistryServiceIdMismatchException(string message) : InvalidOperationException(message);

/// <summary>
/// Runs once the Orleans client has connected (it is registered after the client's own hosted service): asks a silo for
/// its ServiceId and refuses the start on a difference. A silo that cannot be asked now (a call that fails or times out)
/// is logged and the start goes on: the check guards against a wrong setting, not against an outage.
/// </summary>
internal sealed partial class ServiceIdCheck(IClusterClient client, RegistryClientOptions options, ILogger<ServiceIdCheck> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        string served;
        // A silo killed moments ago is still listed until the cluster declares it dead: a call the client sends through it
        // is rejected unsent, and asked again (within the connect timeout) through another.
        var until = DateTime.UtcNow + options.ConnectTimeout;
        while (true)
        {
            try
            {
                served = await client.GetGrain<IClusterViewGrain>(0).ServiceId().WaitAsync(cancellationToken);
                break;
            }
            catch (OrleansMessageRejectionException) when (DateTime.UtcNow < until && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                LogNotChecked(logger, e, options.ServiceId);
                return;
            }
        }
        if (!string.Equals(served, options.ServiceId, StringComparison.Ordinal))
        {
            throw new RegistryServiceIdMismatchException(
                $"The silos of cluster '{options.ClusterId}' run Registry:ServiceId '{served}', but this process is configured with '{options.ServiceId}': give every silo, gateway and client app of a cluster the same Registry:ServiceId. Nothing was served.");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 3901, Level = LogLevel.Warning, Message = "The cluster's ServiceId could not be compared with this process's ('{ServiceId}') now; going on without the check")]
    private static partial void LogNotChecked(ILogger logger, Exception exception, string serviceId);
}
