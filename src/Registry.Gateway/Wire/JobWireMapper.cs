using Registry.Abstractions;

namespace Registry.Gateway.Wire;

/// <summary>Translates between IoT Hub's JobProperties JSON and the registry's <see cref="JobRequest"/> / <see cref="JobProperties"/>.</summary>
internal static class JobWireMapper
{
    /// <summary>
    /// The job a create body asks for. Refused with ArgumentInvalid: a type other than import/export, a missing or
    /// non-http(s) container URI or one without a SAS token, and identity-based storage authentication (there is no
    /// managed identity here).
    /// </summary>
    public static JobRequest ToRequest(JobRequestJson body)
    {
        if (body.StorageAuthenticationType is { } auth && !string.Equals(auth, "keyBased", StringComparison.OrdinalIgnoreCase))
        {
            throw RegistryException.Invalid(string.Equals(auth, "identityBased", StringComparison.OrdinalIgnoreCase)
                ? "storageAuthenticationType 'identityBased' is not supported: this registry has no managed identity. Use a container URI with a SAS token (keyBased)."
                : $"storageAuthenticationType '{auth}' is invalid: expected keyBased.");
        }
        var type = body.Type?.ToLowerInvariant() switch
        {
            "import" => JobType.Import,
            "export" => JobType.Export,
            null => throw RegistryException.Invalid("The job has no type: expected import or export."),
            _ => throw RegistryException.Invalid($"Job type '{body.Type}' is not supported: expected import or export."),
        };
        var request = new JobRequest
        {
            Type = type,
            InputBlobContainerUri = type == JobType.Import ? ContainerUri(body.InputBlobContainerUri, "inputBlobContainerUri") : null,
            InputBlobName = BlobName(body.InputBlobName, "inputBlobName"),
            OutputBlobContainerUri = ContainerUri(body.OutputBlobContainerUri, "outputBlobContainerUri"),
            OutputBlobName = BlobName(body.OutputBlobName, "outputBlobName"),
            ExcludeKeysInExport = body.ExcludeKeysInExport ?? false,
        };
        // An import writes its error log (empty) before it reads a line: an input that is that log would be destroyed.
        if (request.InputBlobContainerUri is { } input && request.InputBlobName == JobBlobNames.ImportErrors
            && SameContainer(input, request.OutputBlobContainerUri))
        {
            throw RegistryException.Invalid(
                $"inputBlobName '{JobBlobNames.ImportErrors}' in the output container is the blob the import writes its errors to, which would overwrite the input: copy the lines to another blob.");
        }
        return request;
    }

    /// <summary>The same container: the same scheme, host, port and path; SAS tokens (the query) may differ.</summary>
    private static bool SameContainer(string a, string b) =>
        string.Equals(ContainerAddress(a), ContainerAddress(b), StringComparison.Ordinal);

    private static string ContainerAddress(string uri) => new Uri(uri).GetLeftPart(UriPartial.Path).TrimEnd('/');

    public static JobPropertiesJson ToJson(JobProperties job) => new(
        job.JobId,
        Date(job.StartTimeUtc),
        Date(job.EndTimeUtc),
        job.Request.Type == JobType.Import ? "import" : "export",
        job.Status.ToString().ToLowerInvariant(),
        job.Progress,
        job.Request.InputBlobContainerUri,
        job.Request.Type == JobType.Import ? job.Request.InputBlobName : null,
        job.Request.OutputBlobContainerUri,
        job.Request.OutputBlobName,
        job.Request.ExcludeKeysInExport,
        "keyBased",
        job.FailureReason);

    private static string? Date(DateTime? value) => value is { } v ? DeviceWireMapper.FormatDate(v) : null;

    private static string ContainerUri(string? value, string field)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw RegistryException.Invalid($"{field} is required.");
        }
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw RegistryException.Invalid($"{field} is not an absolute http(s) URI.");
        }
        // User info has no meaning beside a SAS, and it hid the same container from the importErrors.log guard.
        if (uri.UserInfo.Length > 0)
        {
            throw RegistryException.Invalid($"{field} carries user info before its host: give the container's SAS URI as storage gives it.");
        }
        // Storage is never sent a fragment: the SAS or path it hides from the job failed it later with storage's HTTP 400.
        if (uri.Fragment.Length > 0 || value.Contains('#', StringComparison.Ordinal))
        {
            throw RegistryException.Invalid($"{field} has a '#' fragment, which is never sent to storage: give the container's SAS URI as storage gives it (a '#' in it is written %23).");
        }
        // The SAS is the only credential the registry has for the caller's storage; without one every call is refused.
        if (!uri.Query.Contains("sig=", StringComparison.Ordinal))
        {
            throw RegistryException.Invalid($"{field} carries no SAS token (no 'sig' parameter): give the container's SAS URI.");
        }
        return value;
    }

    // Blob names up to Azure's 1024 characters; an absent or empty one is IoT Hub's default. A '.' or '..' segment, and
    // an empty one (a leading or trailing '/', or '//'), is resolved away in the blob's URL ("./importErrors.log" and
    // "/importErrors.log" are importErrors.log), so the job would read or write another blob than the name says, and the
    // guard above would compare the wrong name: such a name is refused.
    private static string BlobName(string? value, string field) =>
        string.IsNullOrEmpty(value) ? JobBlobNames.Devices
        : value.Length > 1024 ? throw RegistryException.Invalid($"{field} is longer than 1024 characters.")
        : value.Any(char.IsControl)
            ? throw RegistryException.Invalid($"{field} has a control character (U+{(int)value.First(char.IsControl):X4}); a blob name of one made the container unlistable for storage (Azurite answered 500 to every listing). Give a name without control characters.")
        : value.Contains('\\')
            ? throw RegistryException.Invalid($"{field} '{value}' has a '\\', which the blob's URL turns into '/': the job would use another blob than the one named. Use '/'.")
        : value.Split('/').Any(segment => segment is "" or "." or "..")
            ? throw RegistryException.Invalid($"{field} '{value}' has an empty, '.' or '..' segment (a leading or trailing '/', '//', './', '../'), which storage resolves away: the job would use another blob than the one named. Give the blob's name without it.")
        : value;
}
