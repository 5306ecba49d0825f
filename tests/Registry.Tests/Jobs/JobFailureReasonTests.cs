using Microsoft.Extensions.DependencyInjection;
using Registry.Grains.Jobs;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Jobs.JobBlobsHarness;

namespace Registry.Tests.Jobs;

/// <summary>
/// A failed job's <c>failureReason</c> is one short sentence naming the cause for the caller, never the exception that
/// caused it: no retry dumps, stack traces, internal type or table names, paths or SAS signatures (those go to the log).
/// </summary>
public sealed class JobFailureReasonTests(AzuriteFixture azurite) : IAsyncLifetime
{
    /// <summary>What an internal failure's exception may carry, as Orleans and the Azure SDK print theirs.</summary>
    private const string Dump =
        "Exc level 0: Orleans.Runtime.OrleansException: Error from storage provider AzureTableGrainStorage-registry-jobs " +
        "table registryjobs during WriteState with sig=c2VjcmV0 at Orleans.Storage.AzureTableGrainStorage.WriteStateAsync() " +
        "in /src/Orleans.Persistence.AzureStorage/AzureTableStorage.cs:line 130\nExc level 1: Retry failed after 4 tries.";

    private RegistryTestHost _host = null!;
    private HttpClient _http = null!;

    public async ValueTask InitializeAsync()
    {
        _host = await RegistryTestHost.StartAsync(configure: b => b.Services.AddSingleton<IImportChunkGate>(new FailingChunks()));
        _http = _host.CreateClient();
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _host.DisposeAsync();
    }

    private static void AssertShortAndClean(string reason)
    {
        Assert.True(reason.Length <= 200, $"{reason.Length} chars: {reason}");
        Assert.DoesNotContain('\n', reason);
        Assert.DoesNotContain("Exc level", reason, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", reason, StringComparison.Ordinal);
        Assert.DoesNotContain("sig=", reason, StringComparison.Ordinal);
        Assert.DoesNotContain("Retry failed", reason, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", reason, StringComparison.Ordinal);
    }

    /// <summary>
    /// Hostile review, 2026-12-07: the input's reads are conditional on the version the job first read, so an input written
    /// again while the job reads it answers 412. The reason says what happened, not only the status.
    /// </summary>
    [Fact]
    public void A_read_of_an_input_blob_written_again_since_the_job_first_read_it_fails_the_job_saying_it_changed()
    {
        var reason = JobFailureReason.OfStorage("read the input blob 'devices.txt'",
            new Azure.RequestFailedException(412, "The condition specified using HTTP conditional header(s) is not met.", "ConditionNotMet", null));

        AssertShortAndClean(reason);
        Assert.Equal("Could not read the input blob 'devices.txt': it changed while the job ran (HTTP 412 ConditionNotMet); the new content was not applied. Start a new job to import it.", reason);
    }

    [Fact]
    public async Task A_job_failed_by_an_unreachable_storage_host_has_a_short_reason_naming_it()
    {
        var port = FreePorts.Take(1)[0];
        var (_, sas) = await NewContainerAsync(azurite);

        var job = await _http.RunJobAsync(new
        {
            type = "import",
            inputBlobContainerUri = $"http://127.0.0.1:{port}/devstoreaccount1/in?sv=2024-08-04&sig=abc",
            outputBlobContainerUri = sas,
        });

        Assert.Equal("failed", (string)job["status"]!);
        var reason = (string)job["failureReason"]!;
        AssertShortAndClean(reason);
        Assert.Equal("Could not read the input blob 'devices.txt': the storage host did not answer.", reason);
    }

    /// <summary>
    /// Re-check, stop 31: a SAS the SDK cannot parse (spr=http) failed the job as "an internal error"; then it failed the
    /// job with a reason. Since the re-check of 2026-12-05 (a duplicated sig failed the job with the client's text) it is
    /// refused at create, with a reason naming the SAS, and no job is made.
    /// </summary>
    [Theory]
    [InlineData("http://127.0.0.1:1/devstoreaccount1/in?sv=2024-08-04&spr=http&sp=r&sig=abc")]
    [InlineData("http://127.0.0.1:1/devstoreaccount1/in?sv=2024-08-04&sp=r&sig=abc&sig=def")]
    public async Task A_job_whose_sas_the_storage_sdk_cannot_read_is_refused_at_create_with_a_reason_naming_the_sas(string input)
    {
        var (_, sas) = await NewContainerAsync(azurite);

        var response = await _http.CreateJobAsync(new { type = "import", inputBlobContainerUri = input, outputBlobContainerUri = sas },
            System.Net.HttpStatusCode.BadRequest);

        var message = (string)response["Message"]!;
        Assert.Contains("ErrorCode:ArgumentInvalid;inputBlobContainerUri's SAS token could not be read", message, StringComparison.Ordinal);
        AssertShortAndClean(message.Split(';', 2)[1]);
    }

    /// <summary>
    /// A job that reaches storage with such a SAS anyway (made before the create-time check, and kept in durable state)
    /// fails with the registry's own sentence, as create refuses it, not with the storage client's text.
    /// </summary>
    [Theory]
    [InlineData("http://127.0.0.1:1/devstoreaccount1/in?sv=2024-08-04&spr=http&sp=r&sig=abc")]
    [InlineData("http://127.0.0.1:1/devstoreaccount1/in?sv=2024-08-04&sp=r&sig=abc&sig=def")]
    public void A_sas_the_storage_sdk_cannot_read_fails_a_running_job_with_the_sentence_create_gives(string input)
    {
        var e = Assert.Throws<Registry.Grains.Jobs.JobStorageException>(() => Registry.Grains.Jobs.JobBlobs.Container(input, "input"));

        Assert.Equal("The input container URI's SAS token could not be read (a parameter given twice, or one storage does not accept): give the SAS as storage generated it.", e.Message);
        AssertShortAndClean(e.Message);
    }

    [Fact]
    public async Task A_job_failed_by_an_internal_exception_has_a_short_reason_without_the_exception()
    {
        var (container, sas) = await NewContainerAsync(azurite);
        await UploadLinesAsync(container, "devices.txt", [Line(new { id = "reason-internal" })]);

        var job = await _http.RunJobAsync(new { type = "import", inputBlobContainerUri = sas, outputBlobContainerUri = sas });

        Assert.Equal("failed", (string)job["status"]!);
        var reason = (string)job["failureReason"]!;
        AssertShortAndClean(reason);
        Assert.DoesNotContain("registryjobs", reason, StringComparison.Ordinal);
        Assert.Contains("internal error", reason, StringComparison.Ordinal);
    }

    /// <summary>Every import chunk fails inside the registry with an exception like Orleans' storage dumps.</summary>
    private sealed class FailingChunks : IImportChunkGate
    {
        public Task Enter(ImportChunk chunk) => throw new InvalidOperationException(Dump);

        public void Applied(ImportChunk chunk)
        {
        }
    }
}
