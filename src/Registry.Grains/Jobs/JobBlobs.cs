using System.Text;
using Azure;
using Azure.Core;
using Azure.Storage.Blobs;
using Registry.Abstractions;

namespace Registry.Grains.Jobs;

/// <summary>
/// The caller's blob containers, reached only through the SAS URIs the job names, and the block ids of the blobs a
/// job writes. Storage failures become <see cref="JobStorageException"/>s with a reason fit for <c>failureReason</c>.
/// </summary>
internal static class JobBlobs
{
    /// <summary>A client for the container at <paramref name="containerUri"/>, with few quick retries: a refusing host fails the job promptly.</summary>
    public static BlobContainerClient Container(string containerUri, string role)
    {
        if (!Uri.TryCreate(containerUri, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new JobStorageException($"The {role} container URI is not an http(s) URI.");
        }
        var options = new BlobClientOptions();
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = 3;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(30);
        try
        {
            _ = new BlobUriBuilder(uri); // parses the SAS now, which the client would do only at its first call
            return new BlobContainerClient(uri, options);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            // The SDK parses the SAS here (spr=http, say, which Azure refuses): the caller's to fix, not an internal error.
            // Only a job made before create refused such a SAS gets here; it fails with create's sentence, not the client's text.
            throw new JobStorageException(SasUnreadable($"The {role} container URI"), e);
        }
    }

    /// <summary>
    /// Refuses (ArgumentInvalid) a container URI that names no container, or a path below its container: storage's client
    /// takes the container from the URI and drops the rest, so <c>…/container/sub?sas</c> read or wrote the container's
    /// root (hostile review, 2026-12-05). Parsed as the client parses it, path-style (Azurite, an IP) or host-style.
    /// </summary>
    public static void EnsureContainer(string? containerUri, string field)
    {
        if (containerUri is null || !Uri.TryCreate(containerUri, UriKind.Absolute, out var uri))
        {
            return; // the gateway refused it already; a job given one anyway fails with its reason
        }
        // Account and container names need no escape; storage decodes one (%2F is '/') into a path below the container,
        // where the job then read and wrote, past the checks on blob names (re-check of the fix, 2026-12-05).
        var path = containerUri.Split('?', 2)[0];
        if (path.Contains('%', StringComparison.Ordinal))
        {
            throw RegistryException.Invalid($"{field} has a percent-escape in its path, which storage would decode into a path below the container: a container's URI needs none.");
        }
        BlobUriBuilder parts;
        try
        {
            parts = new BlobUriBuilder(uri);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            // A SAS the storage client cannot read (a parameter twice, spr=http): refused now rather than failing the job.
            throw RegistryException.Invalid(SasUnreadable(field));
        }
        if (string.IsNullOrEmpty(parts.BlobContainerName))
        {
            throw RegistryException.Invalid($"{field} names no container: give the SAS URI of a blob container.");
        }
        if (!string.IsNullOrEmpty(parts.BlobName))
        {
            var azurite = string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase)
                ? " (for Azurite on another port, address it as 127.0.0.1: storage's client reads 'localhost' there as an account's host name, not as the emulator's)"
                : "";
            throw RegistryException.Invalid(
                $"{field} names a path below its container ('{parts.BlobName}'), which storage's client drops: the job would use the container's root. Give the container's own SAS URI, and the blob's name as the job's blob name{azurite}.");
        }
    }

    private static string SasUnreadable(string subject) =>
        $"{subject}'s SAS token could not be read (a parameter given twice, or one storage does not accept): give the SAS as storage generated it.";

    /// <summary>Block ids of one blob must all have the same length: (partition, sequence) or an error-block sequence, zero-padded.</summary>
    public static string ExportBlockId(int partition, int sequence) =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes($"p{partition:D6}s{sequence:D8}"));

    public static string ErrorBlockId(int sequence) =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes($"e{sequence:D14}"));

    /// <summary>Runs a storage call; a refusal or an unreachable host becomes the job's failure reason, naming what was being done.</summary>
    public static async Task<T> Call<T>(string what, Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (e is RequestFailedException or HttpRequestException or IOException or AggregateException or InvalidOperationException)
        {
            throw new JobStorageException(JobFailureReason.OfStorage(what, e), e);
        }
    }

    public static Task Call(string what, Func<Task> call) => Call<bool>(what, async () =>
    {
        await call();
        return true;
    });
}

/// <summary>
/// The job's storage could not be used: the job fails with this message as its reason (<see cref="JobFailureReason"/>'s
/// sentence); the storage client's exception is its inner one, for the host's log. Serializable so workers can throw it.
/// </summary>
[GenerateSerializer, Alias("registry.JobStorageException")]
public sealed class JobStorageException(string message, Exception? inner = null) : Exception(message, inner);
