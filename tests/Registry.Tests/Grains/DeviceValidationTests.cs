using Registry.Abstractions;
using static Registry.Tests.Grains.DeviceInputs;

namespace Registry.Tests.Grains;

/// <summary>Every identity rule of wire spec §6, checked where it is enforced: the device grain, before anything is written.</summary>
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
        { "129-character statusReason", id => Sas(id) with { StatusReason = new string('r', 129) } },
        { "unknown status value", id => Sas(id) with { Status = (DeviceStatus)7 } },
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

    [Fact]
    public async Task Invalid_update_answers_ArgumentInvalid_and_changes_nothing()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(Sas(id));
        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Device(id).Update(WithKeys(id, Key32, null), ETagCondition.Any));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, error.Code);
        Assert.Equal(created, await fixture.Device(id).Get());
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
    public void Forbidden_ids_fail(string id) => Assert.False(DeviceValidation.IsValidDeviceId(id));

    [Fact]
    public void Ids_of_128_characters_pass_and_129_fail()
    {
        Assert.True(DeviceValidation.IsValidDeviceId(new string('x', 128)));
        Assert.False(DeviceValidation.IsValidDeviceId(new string('x', 129)));
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
