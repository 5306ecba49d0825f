using Registry.Abstractions;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.DeviceInputs;

namespace Registry.Tests.Grains;

/// <summary>Every identity rule of docs/wire-contract.md §4, checked where it is enforced: the device grain, before anything is written.</summary>
public sealed class DeviceValidationTests(RegistryClusterFixture fixture) : IClassFixture<RegistryClusterFixture>
{
    public static TheoryData<string, Func<string, DeviceIdentityInput>> InvalidIdentities => new()
    {
        { "primary key not base64", id => WithKeys(id, "not base64!", Key32) },
        { "secondary key not base64", id => WithKeys(id, Key32, "%%%") },
        { "15-byte key", id => WithKeys(id, Convert.ToBase64String(new byte[15]), Key32) },
        { "65-byte key", id => WithKeys(id, Key32, Convert.ToBase64String(new byte[65])) },
        { "key with a space inside", id => WithKeys(id, Key32[..4] + " " + Key32[4..], Key32) },
        { "key with a line feed inside", id => WithKeys(id, Key32, Key32[..8] + "\n" + Key32[8..]) },
        { "key with a trailing CRLF", id => WithKeys(id, Key32 + "\r\n", Key32) },
        { "only a primary key", id => WithKeys(id, Key32, null) },
        { "only a secondary key", id => WithKeys(id, "", Key32) },
        { "39-hex thumbprint", id => WithThumbprints(id, Sha1[..39], null) },
        { "non-hex thumbprint", id => WithThumbprints(id, new string('g', 40), null) },
        { "thumbprints of different lengths", id => WithThumbprints(id, Sha1, Sha256) },
        { "keys and thumbprints together", id => WithKeys(id, Key32, Key32) with
            { Authentication = new AuthenticationMechanism(AuthenticationType.Sas, new SymmetricKey(Key32, Key32), new X509Thumbprint(Sha1, null)) } },
        { "selfSigned without thumbprints", id => new DeviceIdentityInput { DeviceId = id, Authentication = new AuthenticationMechanism(AuthenticationType.SelfSigned, null, null) } },
        { "certificateAuthority with keys", id => new DeviceIdentityInput { DeviceId = id, Authentication = new AuthenticationMechanism(AuthenticationType.CertificateAuthority, new SymmetricKey(Key32, Key32), null) } },
        { "thumbprint with explicit type sas", id => WithThumbprints(id, Sha1, Sha1, AuthenticationType.Sas) },
        { "SHA-1 thumbprint with a trailing newline", id => WithThumbprints(id, Sha1 + "\n", null) },
        { "SHA-256 secondary thumbprint with a trailing newline", id => WithThumbprints(id, null, Sha256 + "\n") },
        { "deviceScope of 193 characters", id => Sas(id) with { DeviceScope = new string('s', 193) } },
        { "deviceScope of 250,000 characters", id => Sas(id) with { DeviceScope = new string('s', 250_000) } },
        { "deviceScope with a newline", id => Sas(id) with { DeviceScope = "ms-azure-iot-edge://parent-1\n" } },
        { "edge deviceScope of 250,000 characters", id => Sas(id) with { Capabilities = new DeviceCapabilities(true), DeviceScope = new string('s', 250_000) } },
        { "two parent scopes", id => Sas(id) with { ParentScopes = ["ms-azure-iot-edge://p1-1", "ms-azure-iot-edge://p2-1"] } },
        { "2,400 parent scopes", id => Sas(id) with { ParentScopes = [.. Enumerable.Range(0, 2400).Select(i => $"ms-azure-iot-edge://p{i}-1")] } },
        { "parent scope of 193 characters", id => Sas(id) with { ParentScopes = [new string('p', 193)] } },
        { "parent scope with a control character", id => Sas(id) with { ParentScopes = ["ms-azure-iot-edge://p\u0001-1"] } },
        { "parent scope with a trailing space", id => Sas(id) with { ParentScopes = ["ms-azure-iot-edge://p-1 "] } },
        { "parent scope with a leading space", id => Sas(id) with { ParentScopes = [" ms-azure-iot-edge://p-1"] } },
        { "deviceScope with a leading space", id => Sas(id) with { DeviceScope = " ms-azure-iot-edge://parent-1" } },
        // A review, 2026-12-07: stored as a parent whose scope is empty.
        { "empty parent scope", id => Sas(id) with { ParentScopes = [""] } },
        { "129-character statusReason", id => Sas(id) with { StatusReason = new string('r', 129) } },
        { "unknown status value", id => Sas(id) with { Status = (DeviceStatus)7 } },
        // A review, 2026-12-07: stored as sas with generated keys.
        { "unknown authentication type", id => new DeviceIdentityInput { DeviceId = id, Authentication = new AuthenticationMechanism((AuthenticationType)9, null, null) } },
    };

    [Theory]
    [MemberData(nameof(InvalidIdentities))]
    public async Task Invalid_identity_answers_ArgumentInvalid_and_creates_nothing(string rule, Func<string, DeviceIdentityInput> make)
    {
        var id = NewId("invalid");
        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Device(id).Create(make(id)));

        Assert.True(error.Code == RegistryErrorCode.ArgumentInvalid, $"{rule}: {error.Code}");
        Assert.Null(await fixture.Device(id).Get());
    }

    /// <summary>
    /// A review, 2026-12-07: <c>"deviceScope": ""</c> was stored and listed as a scope. An empty scope names no parent: it
    /// is stored as none (null), so on an update it clears the scope a leaf device had, where an absent one keeps it.
    /// </summary>
    [Fact]
    public async Task An_empty_device_scope_is_stored_as_none_and_clears_a_leaf_devices_scope_on_update()
    {
        var id = NewId("scope");
        var created = await fixture.Device(id).Create(Sas(id) with { DeviceScope = "" });
        Assert.Null(created.DeviceScope);

        var parented = await fixture.Device(id).Update(Sas(id) with { DeviceScope = "ms-azure-iot-edge://parent-1" }, ETagCondition.Any);
        Assert.Equal("ms-azure-iot-edge://parent-1", parented.DeviceScope);
        Assert.Equal("ms-azure-iot-edge://parent-1", (await fixture.Device(id).Update(Sas(id), ETagCondition.Any)).DeviceScope);

        var cleared = await fixture.Device(id).Update(Sas(id) with { DeviceScope = "" }, ETagCondition.Any);
        Assert.Null(cleared.DeviceScope);
        Assert.Null((await fixture.Device(id).Get())!.DeviceScope);
    }

    [Fact]
    public async Task Invalid_update_answers_ArgumentInvalid_and_changes_nothing()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(Sas(id));
        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Device(id).Update(WithKeys(id, Key32, null), ETagCondition.Any));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, error.Code);
        Assert.Equal(created, await fixture.Device(id).Get());
    }

    /// <summary>
    /// A tag is base64 and may itself begin with <c>W/</c>: only a <c>W/</c> before a quote is the weak prefix (the first
    /// cut of the quoted-tag fix stripped it from such tags, and <c>ETagsBeginningWithWTests</c> failed).
    /// </summary>
    [Theory]
    [InlineData("W/abc=")]
    [InlineData("\"W/abc=\"")]
    [InlineData("W/\"W/abc=\"")]
    public void A_condition_on_a_tag_that_begins_with_W_matches_it_bare_quoted_or_weak(string condition)
    {
        Assert.True(ETagCondition.Of(condition).Matches("W/abc="));
        Assert.False(ETagCondition.Of(condition).Matches("abc="));
    }

    /// <summary>A review, 2026-12-07: a client app's null condition was a NullReferenceException.</summary>
    [Fact]
    public async Task A_write_without_an_etag_condition_answers_ArgumentInvalid_and_changes_nothing()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(Sas(id));

        var errors = new[]
        {
            await Assert.ThrowsAsync<RegistryException>(() => fixture.Device(id).Update(Sas(id) with { StatusReason = "changed" }, null!)),
            await Assert.ThrowsAsync<RegistryException>(() => fixture.Device(id).CreateOrUpdate(Sas(id) with { StatusReason = "changed" }, null!)),
            await Assert.ThrowsAsync<RegistryException>(() => fixture.Device(id).Delete(null!)),
        };

        Assert.All(errors, e => Assert.Equal(RegistryErrorCode.ArgumentInvalid, e.Code));
        Assert.Equal(created, await fixture.Device(id).Get());
    }

    /// <summary>
    /// A review, 2026-12-07: a client app handed the ETag quoted, as the sample prints it and the <c>ETag</c> header
    /// carries it, got PreconditionFailed from the grain interface; <c>If-Match</c> over REST takes it either way.
    /// </summary>
    [Fact]
    public async Task An_etag_condition_matches_the_tag_with_or_without_its_quotes_and_weak_prefix()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(Sas(id));

        var quoted = await fixture.Device(id).Update(Sas(id) with { StatusReason = "quoted" }, ETagCondition.Of($"\"{created.ETag}\""));
        var weak = await fixture.Device(id).Update(Sas(id) with { StatusReason = "weak" }, ETagCondition.Of($"W/\"{quoted.ETag}\""));
        var stale = await Assert.ThrowsAsync<RegistryException>(() => fixture.Device(id).Delete(ETagCondition.Of($"\"{created.ETag}\"")));
        await fixture.Device(id).Delete(ETagCondition.Of($"\"{weak.ETag}\""));

        Assert.Equal("quoted", quoted.StatusReason);
        Assert.Equal("weak", weak.StatusReason);
        Assert.Equal(RegistryErrorCode.PreconditionFailed, stale.Code);
        Assert.Null(await fixture.Device(id).Get());
    }

    [Theory]
    [InlineData("a")]
    [InlineData("-:.+%_#*?!(),=@;$'")]
    [InlineData("ABCxyz0123456789")]
    public void Allowed_ids_pass(string id) => Assert.True(DeviceValidation.IsValidDeviceId(id));

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData("a b")]
    [InlineData("a\\b")]
    [InlineData("dév")]
    [InlineData("a&b")]
    [InlineData("dev1\n")]
    [InlineData("\n")]
    [InlineData("dev1\r\n")]
    [InlineData(".")]
    [InlineData("..")]
    public void Forbidden_ids_fail(string id) => Assert.False(DeviceValidation.IsValidDeviceId(id));

    [Fact]
    public void Ids_of_128_characters_pass_and_129_fail()
    {
        Assert.True(DeviceValidation.IsValidDeviceId(new string('x', 128)));
        Assert.False(DeviceValidation.IsValidDeviceId(new string('x', 129)));
        Assert.False(DeviceValidation.IsValidDeviceId(new string('x', 128) + "\n"));
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public async Task A_device_whose_id_ends_in_a_newline_is_refused_and_not_created(string ending)
    {
        var id = NewId("nl") + ending;
        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Device(id).Create(Sas(id)));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, error.Code);
        Assert.Null(await fixture.Device(id).Get());
    }

    [Theory]
    [InlineData(".")]
    [InlineData("..")]
    public async Task Dot_ids_are_refused_and_not_created(string id)
    {
        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Device(id).Create(Sas(id)));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, error.Code);
        Assert.Null(await fixture.Device(id).Get());
    }

    [Theory]
    [InlineData("...")]
    [InlineData(".a")]
    [InlineData("a..")]
    public void Ids_with_dots_beside_other_characters_pass(string id) => Assert.True(DeviceValidation.IsValidDeviceId(id));

    [Fact]
    public async Task The_largest_generated_edge_scope_is_accepted_as_a_parent_scope()
    {
        var edgeId = new string('e', DeviceValidation.MaxIdLength - 33) + Guid.NewGuid().ToString("N");
        var edge = await fixture.Device(edgeId).Create(Sas(edgeId) with { Capabilities = new DeviceCapabilities(true) });
        var id = NewId("child");

        var child = await fixture.Device(id).Create(Sas(id) with { DeviceScope = edge.DeviceScope, ParentScopes = [edge.DeviceScope!] });

        Assert.Equal([edge.DeviceScope!], child.ParentScopes);
    }

    [Fact]
    public async Task Keys_of_16_and_64_bytes_are_accepted()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(WithKeys(id, Key16, Key64));
        Assert.Equal(Key16, created.Authentication.SymmetricKey!.PrimaryKey);
    }

    [Fact]
    public async Task Sha256_thumbprints_are_accepted()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(WithThumbprints(id, Sha256, Sha256.ToUpperInvariant()));
        Assert.Equal(Sha256, created.Authentication.X509Thumbprint!.PrimaryThumbprint);
    }
}
