using System.Net;
using System.Text.Json.Nodes;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;
using static Registry.Tests.Jobs.JobBlobsHarness;

namespace Registry.Tests.Jobs;

/// <summary>
/// Import jobs against real Azurite containers: each line goes through the bulk endpoint's per-item rules; a failed line is
/// in importErrors.log with its numeric code and changes nothing; the job completes even with line errors.
/// </summary>
public sealed class ImportJobTests(RegistryHostFixture registry, AzuriteFixture azurite) : IClassFixture<RegistryHostFixture>
{
    private readonly HttpClient _http = registry.Client;

    /// <summary>Imports <paramref name="lines"/>; returns the ended job and importErrors.log as JSON objects.</summary>
    private async Task<(JsonObject Job, JsonObject[] Errors)> ImportAsync(IEnumerable<string> lines)
    {
        var (container, sas) = await NewContainerAsync(azurite);
        await UploadLinesAsync(container, "devices.txt", lines);
        var job = await _http.RunJobAsync(new { type = "import", inputBlobContainerUri = sas, outputBlobContainerUri = sas });
        var errors = (await ReadLinesAsync(container, "importErrors.log")).Select(l => JsonNode.Parse(l)!.AsObject()).ToArray();
        return (job, errors);
    }

    private async Task<JsonObject?> FindDeviceAsync(string id)
    {
        using var response = await _http.GetDeviceAsync(id);
        return response.StatusCode == HttpStatusCode.NotFound ? null : await response.ReadDeviceAsync(HttpStatusCode.OK);
    }

    public static TheoryData<string?, bool, string?, int?> Modes => new()
    {
        // importMode, device present before, eTag sent ("match", "stale" or none), expected error code (null: applied)
        { null, false, null, null },
        { null, true, null, null },
        { "createOrUpdate", false, null, null },
        { "createOrUpdate", true, null, null },
        { "create", false, null, null },
        { "create", true, null, 409001 },
        { "update", false, null, 404001 },
        { "update", true, null, null },
        { "updateIfMatchETag", false, "stale", 404001 },
        { "updateIfMatchETag", true, "match", null },
        { "updateIfMatchETag", true, "stale", 412001 },
        { "createOrUpdateIfMatchETag", true, "match", null },
        { "createOrUpdateIfMatchETag", true, "stale", 412001 },
        { "delete", false, null, 404001 },
        { "delete", true, null, null },
        { "deleteIfMatchETag", false, "stale", 404001 },
        { "deleteIfMatchETag", true, "match", null },
        { "deleteIfMatchETag", true, "stale", 412001 },
        { "updateTwin", true, null, 400004 },
        { "updateTwinIfMatchETag", true, "match", 400004 },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public async Task Each_import_mode_applies_or_reports_the_line_as_the_bulk_endpoint_does(string? mode, bool present, string? etag, int? error)
    {
        var id = $"imp-{mode ?? "none"}-{present}-{etag ?? "none"}";
        var before = present ? await _http.CreateDeviceAsync(id) : null;
        var line = new JsonObject { ["id"] = id, ["status"] = "disabled", ["statusReason"] = "imported" };
        if (mode is not null)
        {
            line["importMode"] = mode;
        }
        if (etag is not null)
        {
            line["eTag"] = etag == "match" ? (string)before!["etag"]! : "c3RhbGU=";
        }

        var (job, errors) = await ImportAsync([line.ToJsonString()]);

        Assert.Equal("completed", (string)job["status"]!);
        var after = await FindDeviceAsync(id);
        if (error is { } code)
        {
            var logged = Assert.Single(errors);
            Assert.Equal(code, (int)logged["errorCode"]!);
            Assert.Equal(id, (string?)logged["deviceId"]);
            // Nothing changed: still absent, or still the device as it was.
            Assert.Equal(before?.ToJsonString(), after?.ToJsonString());
        }
        else
        {
            Assert.Empty(errors);
            if (mode is "delete" or "deleteIfMatchETag")
            {
                Assert.Null(after);
            }
            else
            {
                Assert.NotNull(after);
                Assert.Equal("disabled", (string)after["status"]!);
                Assert.Equal("imported", (string?)after["statusReason"]);
            }
        }
    }

    [Fact]
    public async Task Malformed_lines_are_logged_with_numeric_codes_comment_lines_are_skipped_and_the_rest_is_applied_indented_lines_too()
    {
        string[] lines =
        [
            "# a comment line, skipped",
            "",
            "{not json",
            Line(new { id = "imp bad id" }),
            Line(new { id = "imp-mal-ok", status = "enabled" }),
            " \t" + Line(new { id = "imp-mal-indented" }),
            "{\"id\":\"imp-mal-long\",\"statusReason\":\"" + new string('x', 70_000) + "\"}",
            Line(new { id = "imp-mal-status", status = "sleeping" }),
            "[1,2,3]",
            Line(new { id = "imp-mal-module", moduleId = "m1" }),
        ];

        var (job, errors) = await ImportAsync(lines);

        Assert.Equal("completed", (string)job["status"]!);
        Assert.NotNull(await FindDeviceAsync("imp-mal-ok"));
        Assert.NotNull(await FindDeviceAsync("imp-mal-indented"));
        Assert.Null(await FindDeviceAsync("imp-mal-long"));
        Assert.Null(await FindDeviceAsync("imp-mal-status"));
        Assert.Null(await FindDeviceAsync("imp-mal-module"));
        Assert.Equal([400012, 400004, 400012, 400004, 400004], errors.Select(e => (int)e["errorCode"]!));
        Assert.Equal([null, "imp bad id", null, "imp-mal-status", "imp-mal-module"], errors.Select(e => (string?)e["deviceId"]));
        Assert.Contains("Invalid device format in line", (string)errors[0]["errorStatus"]!);
    }

    [Fact]
    public async Task An_id_twice_in_one_file_applies_the_first_line_and_logs_the_second_as_DeviceDefinedMultipleTimes()
    {
        var (job, errors) = await ImportAsync([
            Line(new { id = "imp-dup", statusReason = "first" }),
            Line(new { id = "imp-dup", statusReason = "second" }),
        ]);

        Assert.Equal("completed", (string)job["status"]!);
        Assert.Equal("first", (string?)(await FindDeviceAsync("imp-dup"))!["statusReason"]);
        var logged = Assert.Single(errors);
        Assert.Equal(400011, (int)logged["errorCode"]!);
    }

    /// <summary>Imports the raw bytes <paramref name="input"/>; returns the ended job and importErrors.log as JSON objects.</summary>
    private async Task<(JsonObject Job, JsonObject[] Errors)> ImportBytesAsync(byte[] input)
    {
        var (container, sas) = await NewContainerAsync(azurite);
        await container.GetBlobClient("devices.txt").UploadAsync(BinaryData.FromBytes(input), overwrite: true);
        var job = await _http.RunJobAsync(new { type = "import", inputBlobContainerUri = sas, outputBlobContainerUri = sas });
        var errors = (await ReadLinesAsync(container, "importErrors.log")).Select(l => JsonNode.Parse(l)!.AsObject()).ToArray();
        return (job, errors);
    }

    [Fact]
    public async Task An_id_created_twice_in_different_chunks_of_one_file_is_created_by_the_first_line_and_the_later_one_is_logged()
    {
        // 600 lines: the two lines of the id are in different 500-line chunks, which are in flight together.
        var lines = Enumerable.Range(0, 600).Select(i => i switch
        {
            0 => Line(new { id = "imp-dup-far", importMode = "create", statusReason = "line 0" }),
            550 => Line(new { id = "imp-dup-far", importMode = "create", statusReason = "line 550" }),
            _ => "# filler line " + i,
        });

        var (job, errors) = await ImportAsync(lines);

        Assert.Equal("completed", (string)job["status"]!);
        var logged = Assert.Single(errors);
        Assert.Equal(409001, (int)logged["errorCode"]!);
        Assert.Equal("imp-dup-far", (string?)logged["deviceId"]);
        Assert.Equal("line 0", (string?)(await FindDeviceAsync("imp-dup-far"))!["statusReason"]);
    }

    [Fact]
    public async Task Devices_created_in_one_chunk_and_deleted_in_the_next_are_applied_in_file_order_and_none_is_left()
    {
        // Found by a hostile review (2026-12-05): chunks in flight together applied a later chunk's deletes before the
        // creates of the chunk before it, leaving 218 of 250 devices registered with 404001 logged. Each pair here is a
        // chunk of 490 other creates and 10 of the ids, then a chunk deleting the 10 (which alone would end first).
        const int pairs = 4;
        var lines = new List<string>();
        for (var pair = 0; pair < pairs; pair++)
        {
            lines.AddRange(Enumerable.Range(0, 490).Select(i => Line(new { id = $"ord-fill-{pair}-{i}", importMode = "create" })));
            lines.AddRange(Enumerable.Range(0, 10).Select(i => Line(new { id = $"ord-{pair}-{i}", importMode = "create" })));
            lines.AddRange(Enumerable.Range(0, 10).Select(i => Line(new { id = $"ord-{pair}-{i}", importMode = "delete" })));
            lines.AddRange(Enumerable.Range(0, 490).Select(i => "# filler line " + i));
        }

        var (job, errors) = await ImportAsync(lines);

        Assert.Equal("completed", (string)job["status"]!);
        Assert.Empty(errors);
        var left = new List<string>();
        for (var pair = 0; pair < pairs; pair++)
        {
            for (var i = 0; i < 10; i++)
            {
                if (await FindDeviceAsync($"ord-{pair}-{i}") is not null)
                {
                    left.Add($"ord-{pair}-{i}");
                }
            }
        }
        Assert.Empty(left);
        Assert.NotNull(await FindDeviceAsync("ord-fill-3-489"));
    }

    [Fact]
    public async Task A_binary_input_blob_applies_nothing_and_logs_the_line_that_starts_like_json()
    {
        var random = new Random(10);
        var junk = new byte[4000];
        random.NextBytes(junk);
        for (var i = 0; i < junk.Length; i++)
        {
            // Two lines, known: one that starts like JSON (then binary), one that does not (skipped, as IoT Hub does).
            junk[i] = junk[i] is (byte)'\n' or (byte)'{' ? (byte)0xFF : junk[i];
        }
        junk[0] = (byte)'{';
        junk[2000] = (byte)'\n';
        junk[2001] = 0x00;
        var before = (await _http.StatisticsAsync()).Count("totalDeviceCount");

        var (job, errors) = await ImportBytesAsync(junk);

        Assert.Equal("completed", (string)job["status"]!);
        var logged = Assert.Single(errors);
        Assert.Equal(400012, (int)logged["errorCode"]!);
        Assert.Null((string?)logged["deviceId"]);
        Assert.Equal(before, (await _http.StatisticsAsync()).Count("totalDeviceCount"));
    }

    [Fact]
    public async Task A_UTF_16_input_blob_fails_the_job_with_a_reason_instead_of_completing_having_imported_nothing()
    {
        var utf16 = System.Text.Encoding.Unicode;
        var input = utf16.GetPreamble().Concat(utf16.GetBytes(Line(new { id = "imp-u16" }) + "\r\n")).ToArray();

        var (job, _) = await ImportBytesAsync(input);

        Assert.Equal("failed", (string)job["status"]!);
        Assert.Contains("The input blob 'devices.txt' begins with a UTF-16 byte order mark", (string)job["failureReason"]!);
        Assert.Null(await FindDeviceAsync("imp-u16"));
    }

    [Fact]
    public async Task A_single_line_of_8_MB_is_one_per_line_error_past_the_64_KiB_line_limit_and_the_next_line_still_applies()
    {
        // MaxLineBytes is 65536: the 8 MB line streams past without being held (the chunker's buffer is 1 MiB).
        var huge = "{\"id\":\"imp-huge\",\"statusReason\":\"" + new string('x', 8 << 20) + "\"}";

        var (job, errors) = await ImportAsync([huge, Line(new { id = "imp-after-huge" })]);

        Assert.Equal("completed", (string)job["status"]!);
        var logged = Assert.Single(errors);
        Assert.Equal(400012, (int)logged["errorCode"]!);
        Assert.Contains("longer than 65536 bytes", (string)logged["errorStatus"]!);
        Assert.Null(await FindDeviceAsync("imp-huge"));
        Assert.NotNull(await FindDeviceAsync("imp-after-huge"));
    }

    [Fact]
    public async Task An_import_whose_output_SAS_cannot_write_fails_with_a_reason_before_applying_any_line()
    {
        var (input, readSas) = await NewContainerAsync(azurite);
        await UploadLinesAsync(input, "devices.txt", [Line(new { id = "imp-no-log" })]);
        var (_, readOnly) = await NewContainerAsync(azurite, Azure.Storage.Sas.BlobContainerSasPermissions.Read);

        var job = await _http.RunJobAsync(new { type = "import", inputBlobContainerUri = readSas, outputBlobContainerUri = readOnly });

        Assert.Equal("failed", (string)job["status"]!);
        Assert.Contains("importErrors.log", (string)job["failureReason"]!);
        Assert.Contains("403", (string)job["failureReason"]!);
        Assert.Null(await FindDeviceAsync("imp-no-log"));
    }

    [Fact]
    public async Task An_input_SAS_without_read_permission_fails_the_job_with_a_reason_and_applies_nothing()
    {
        var (input, _) = await NewContainerAsync(azurite);
        await UploadLinesAsync(input, "devices.txt", [Line(new { id = "imp-no-read" })]);
        var writeOnly = input.GenerateSasUri(Azure.Storage.Sas.BlobContainerSasPermissions.Write, DateTimeOffset.UtcNow.AddHours(1)).ToString();
        var (_, output) = await NewContainerAsync(azurite);

        var job = await _http.RunJobAsync(new { type = "import", inputBlobContainerUri = writeOnly, outputBlobContainerUri = output });

        Assert.Equal("failed", (string)job["status"]!);
        Assert.Contains("403", (string)job["failureReason"]!);
        Assert.Null(await FindDeviceAsync("imp-no-read"));
    }

    [Fact]
    public async Task An_empty_input_blob_completes_with_an_empty_error_log()
    {
        var (job, errors) = await ImportAsync([]);

        Assert.Equal("completed", (string)job["status"]!);
        Assert.Equal(100, (int)job["progress"]!);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task A_missing_input_blob_fails_the_job_with_a_reason()
    {
        var (_, sas) = await NewContainerAsync(azurite);

        var job = await _http.RunJobAsync(new { type = "import", inputBlobContainerUri = sas, inputBlobName = "absent.txt", outputBlobContainerUri = sas });

        Assert.Equal("failed", (string)job["status"]!);
        Assert.Contains("absent.txt", (string)job["failureReason"]!);
        Assert.Contains("404", (string)job["failureReason"]!);
    }

    [Fact]
    public async Task An_input_SAS_with_a_forged_signature_fails_the_job_with_a_reason_and_applies_nothing()
    {
        var (container, sas) = await NewContainerAsync(azurite);
        await UploadLinesAsync(container, "devices.txt", [Line(new { id = "imp-forged" })]);
        var forged = System.Text.RegularExpressions.Regex.Replace(sas, "sig=[^&]+", "sig=AAAA");

        var job = await _http.RunJobAsync(new { type = "import", inputBlobContainerUri = forged, outputBlobContainerUri = sas });

        Assert.Equal("failed", (string)job["status"]!);
        Assert.Contains("403", (string)job["failureReason"]!);
        Assert.Null(await FindDeviceAsync("imp-forged"));
    }

    [Fact]
    public async Task An_input_container_on_a_host_that_refuses_connections_fails_the_job_with_a_reason()
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
        Assert.Contains("Could not read the input blob", (string)job["failureReason"]!);
    }
}
