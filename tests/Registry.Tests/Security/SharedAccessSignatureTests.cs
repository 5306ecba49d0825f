using Microsoft.Extensions.Time.Testing;
using Registry.Gateway.Security;
using static Registry.Tests.Security.SasVectors;

namespace Registry.Tests.Security;

/// <summary>The SAS algorithm of docs/wire-contract.md §7, against tokens the Node SDK's own signer produced.</summary>
public class SharedAccessSignatureTests
{
    private static readonly byte[] Policy = Convert.FromBase64String(PolicyKey);
    private static readonly byte[] Device = Convert.FromBase64String(DeviceKey);

    [Theory]
    [InlineData("node service: sr,sig,skn,se", $"SharedAccessSignature sr=localhost&sig={OwnerSig}&skn=iothubowner&se=1795687569")]
    [InlineData("csharp: sr,sig,se,skn", $"SharedAccessSignature sr=localhost&sig={OwnerSig}&se=1795687569&skn=iothubowner")]
    [InlineData("docs: sig,se,skn,sr", $"SharedAccessSignature sig={OwnerSig}&se=1795687569&skn=iothubowner&sr=localhost")]
    [InlineData("se first", $"SharedAccessSignature se=1795687569&skn=iothubowner&sr=localhost&sig={OwnerSig}")]
    [InlineData("keys in any case", $"SharedAccessSignature SR=localhost&Sig={OwnerSig}&sKn=iothubowner&SE=1795687569")]
    [InlineData("unknown field ignored", $"SharedAccessSignature sr=localhost&sig={OwnerSig}&skn=iothubowner&se=1795687569&x=1")]
    [InlineData("scheme in another case", $"sharedaccesssignature sr=localhost&sig={OwnerSig}&skn=iothubowner&se=1795687569")]
    public void Policy_token_verifies_in_every_field_order(string order, string token)
    {
        Assert.True(SharedAccessSignature.TryParse(token, out var sas), order);
        Assert.Equal("localhost", sas.Resource);
        Assert.Equal("iothubowner", sas.KeyName);
        Assert.Equal(Se, sas.ExpiresOn);
        Assert.True(sas.IsSignedWith(Policy), order);
    }

    [Theory]
    [InlineData("node device: sr,sig,se", Dev1)]
    [InlineData("se,sr,sig", $"SharedAccessSignature se=1795687569&sr=localhost%2Fdevices%2Fdev1&sig={Dev1Sig}")]
    [InlineData("sig,se,sr", $"SharedAccessSignature sig={Dev1Sig}&se=1795687569&sr=localhost%2Fdevices%2Fdev1")]
    public void Device_token_verifies_in_every_field_order(string order, string token)
    {
        Assert.True(SharedAccessSignature.TryParse(token, out var sas), order);
        Assert.Null(sas.KeyName);
        Assert.Equal("localhost/devices/dev1", sas.DecodedResource);
        Assert.True(sas.IsSignedWith(Device), order);
    }

    [Fact]
    public void Sr_is_signed_as_received_so_both_escape_casings_verify()
    {
        Assert.True(SharedAccessSignature.TryParse(Dev1, out var upper));
        Assert.True(SharedAccessSignature.TryParse(Dev1Lower, out var lower));
        Assert.True(upper.IsSignedWith(Device));
        Assert.True(lower.IsSignedWith(Device));
        Assert.Equal(upper.DecodedResource, lower.DecodedResource);
    }

    [Fact]
    public void Re_encoding_sr_in_the_other_casing_breaks_the_signature()
    {
        // The %2F signature under the %2f sr: a server that normalized escapes before hashing would accept this.
        var swapped = Dev1Lower.Replace("sig=6DmxA439KeQ3xo85cuVufcXKVtNxjuI9z2alxUa%2FMWU%3D", $"sig={Dev1Sig}");
        Assert.True(SharedAccessSignature.TryParse(swapped, out var sas));
        Assert.False(sas.IsSignedWith(Device));
    }

    [Fact]
    public void Id_with_every_allowed_special_character_verifies_and_decodes()
    {
        Assert.True(SharedAccessSignature.TryParse(Special, out var sas));
        Assert.True(sas.IsSignedWith(Device));
        Assert.Equal($"localhost/devices/{SpecialId}", sas.DecodedResource);
    }

    [Fact]
    public void Signer_matches_the_node_sdk_byte_for_byte()
    {
        var expiry = DateTimeOffset.FromUnixTimeSeconds(Se);
        Assert.Equal(Owner, SharedAccessSignature.Create("localhost", PolicyKey, "iothubowner", expiry));
        Assert.Equal(Dev1, SharedAccessSignature.Create("localhost/devices/dev1", DeviceKey, null, expiry));
        Assert.Equal(Special, SharedAccessSignature.Create($"localhost/devices/{SpecialId}", DeviceKey, null, expiry));
    }

    [Fact]
    public void Wrong_key_does_not_verify()
    {
        Assert.True(SharedAccessSignature.TryParse(Owner, out var sas));
        Assert.False(sas.IsSignedWith(Device));
        Assert.False(sas.IsSignedWith(Policy.AsSpan(1)));
    }

    [Theory]
    [InlineData("one bit flipped in the signature", "H7Jn7ORZh46F2KULFpbY68RBtQRwslCi2bULP2%2FVAEQ%3D", "H7Jn7ORZh46F2KULFpbY68RBtQRwslCi2bULP2%2FVAER%3D")]
    [InlineData("signature not URL-decoded as base64 text", "H7Jn7ORZh46F2KULFpbY68RBtQRwslCi2bULP2%2FVAEQ%3D", "H7Jn7ORZh46F2KULFpbY68RBtQRwslCi2bULP2%252FVAEQ%253D")]
    [InlineData("signature truncated", "H7Jn7ORZh46F2KULFpbY68RBtQRwslCi2bULP2%2FVAEQ%3D", "H7Jn7ORZh46F2KULFpbY68RBtQRwslCi2bULP2%2FVAEQ")]
    [InlineData("expiry moved", "se=1795687569", "se=1795687570")]
    [InlineData("audience widened", "sr=localhost&", "sr=localhost%2F&")]
    [InlineData("audience in another case", "sr=localhost&", "sr=LOCALHOST&")]
    public void Tampered_token_does_not_verify(string what, string original, string tampered)
    {
        var token = Owner.Replace(original, tampered);
        Assert.NotEqual(Owner, token);
        Assert.True(!SharedAccessSignature.TryParse(token, out var sas) || !sas.IsSignedWith(Policy), what);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("SharedAccessSignature")]
    [InlineData("SharedAccessSignature ")]
    [InlineData("Bearer sr=localhost&sig=abc&se=1")]
    [InlineData("SharedAccessSignaturesr=localhost&sig=abc&se=1")]
    [InlineData("sr=localhost&sig=abc&se=1")]
    [InlineData("SharedAccessSignature sig=abc&se=1795687569")]
    [InlineData("SharedAccessSignature sr=localhost&se=1795687569")]
    [InlineData("SharedAccessSignature sr=localhost&sig=abc")]
    [InlineData("SharedAccessSignature sr=&sig=abc&se=1795687569")]
    [InlineData("SharedAccessSignature sr=localhost&sig=&se=1795687569")]
    [InlineData("SharedAccessSignature sr=localhost&sig=abc&se=")]
    [InlineData("SharedAccessSignature sr=localhost&sig=abc&se=-1")]
    [InlineData("SharedAccessSignature sr=localhost&sig=abc&se=+1795687569")]
    [InlineData("SharedAccessSignature sr=localhost&sig=abc&se=1795687569.5")]
    [InlineData("SharedAccessSignature sr=localhost&sig=abc&se=0x6b")]
    [InlineData("SharedAccessSignature sr=localhost&sig=abc&se=99999999999999999999999")]
    [InlineData("SharedAccessSignature sr=localhost&sig=abc&se=1795687569&skn=")]
    [InlineData("SharedAccessSignature sr=localhost&sig=abc&se=1795687569&se=1795687569")]
    [InlineData("SharedAccessSignature sr=localhost&sr=localhost%2Fdevices&sig=abc&se=1795687569")]
    [InlineData("SharedAccessSignature sr=localhost&SIG=abc&sig=abc&se=1795687569")]
    [InlineData("SharedAccessSignature sr=localhost&sig=abc&se=1795687569&skn=a&skn=b")]
    [InlineData("SharedAccessSignature sr=localhost&sig&se=1795687569")]
    [InlineData("SharedAccessSignature =x&sr=localhost&sig=abc&se=1795687569")]
    [InlineData("SharedAccessSignature sr=localhost sig=abc se=1795687569")]
    [InlineData("SharedAccessSignature sr=localhost&sig=abc&se=1795687569 &skn=x")]
    [InlineData("SharedAccessSignature sr=local\thost&sig=abc&se=1795687569")]
    [InlineData("{\"sr\":\"localhost\",\"sig\":\"abc\",\"se\":1795687569}")]
    public void Malformed_token_does_not_parse(string? token) =>
        Assert.False(SharedAccessSignature.TryParse(token, out _));

    [Fact]
    public void A_token_longer_than_4096_characters_does_not_parse() =>
        Assert.False(SharedAccessSignature.TryParse($"SharedAccessSignature sr=localhost&sig={new string('A', 5000)}&se=1", out _));

    [Fact]
    public void Each_pair_splits_on_its_first_equals_sign()
    {
        Assert.True(SharedAccessSignature.TryParse("SharedAccessSignature sr=localhost&sig=ab==&se=1795687569&skn=a=b", out var sas));
        Assert.Equal("a=b", sas.KeyName);
    }

    [Fact]
    public void Empty_pairs_are_skipped() =>
        Assert.True(SharedAccessSignature.TryParse($"SharedAccessSignature &sr=localhost&&sig={OwnerSig}&se=1795687569&", out _));

    [Theory]
    [InlineData(0, false)]
    [InlineData(299, false)]
    [InlineData(300, false)]
    [InlineData(301, true)]
    [InlineData(3600, true)]
    [InlineData(-3600, false)]
    public void Token_expires_five_minutes_after_se(int secondsAfterSe, bool expired)
    {
        Assert.True(SharedAccessSignature.TryParse(Owner, out var sas));
        Assert.Equal(expired, sas.IsExpired(DateTimeOffset.FromUnixTimeSeconds(Se + secondsAfterSe)));
    }

    [Theory]
    [InlineData("localhost", "/devices/dev1", true)]
    [InlineData("localhost", "/", true)]
    [InlineData("localhost/", "/statistics/devices", true)]
    [InlineData("LocalHost", "/devices/dev1", true)]
    [InlineData("localhost/devices", "/devices/dev1", true)]
    [InlineData("localhost/devices", "/devices/", true)]
    [InlineData("localhost/devices", "/devices", true)]
    [InlineData("localhost/DEVICES", "/devices/dev1", true)]
    [InlineData("localhost/devices/dev1", "/devices/dev1", true)]
    [InlineData("localhost/devices/dev1", "/devices/dev1/messages/events", true)]
    [InlineData("localhost/devices/dev1/", "/devices/dev1/messages/events", true)]
    [InlineData("localhost/devices/dev1", "/devices/dev10", false)]
    [InlineData("localhost/devices/dev1", "/devices/DEV1", false)]
    [InlineData("localhost/DEVICES/Dev1", "/devices/Dev1/messages/events", true)]
    [InlineData("localhost/devices/Dev1", "/devices/dev1/messages/events", false)]
    [InlineData("localhost/devices/dev1", "/devices/dev", false)]
    [InlineData("localhost/devices/dev1", "/devices", false)]
    [InlineData("localhost/devices/dev1", "/statistics/devices", false)]
    [InlineData("localhost/devices", "/devicesX", false)]
    [InlineData("localhost/dev", "/devices/dev1", false)]
    [InlineData("localhost/statistics", "/devices/dev1", false)]
    [InlineData("localhostx", "/devices/dev1", false)]
    [InlineData("localhos", "/devices/dev1", false)]
    [InlineData("otherhost", "/devices/dev1", false)]
    [InlineData("otherhost/localhost", "/devices/dev1", false)]
    [InlineData("", "/devices/dev1", false)]
    [InlineData("/", "/devices/dev1", false)]
    [InlineData("localhost//devices", "/devices/dev1", false)]
    public void Audience_is_a_segment_wise_case_insensitive_prefix_of_host_and_path(string audience, string path, bool valid) =>
        Assert.Equal(valid, SharedAccessSignature.IsAudiencePrefix(audience, "localhost", path));

    [Fact]
    public void Audience_is_compared_after_url_decoding_sr()
    {
        Assert.True(SharedAccessSignature.TryParse(Dev1Lower, out var sas));
        Assert.True(sas.IsValidFor("localhost", "/devices/dev1/messages/events"));
        Assert.False(sas.IsValidFor("localhost", "/devices/dev2/messages/events"));
        Assert.False(sas.IsValidFor("127.0.0.2", "/devices/dev1/messages/events"));
    }

    [Fact]
    public async Task Waiting_for_expiry_returns_only_once_the_wall_clock_refuses_the_token_even_when_a_timer_fired_early()
    {
        const long se = 1_800_000_000;
        // Where a monotonic timer armed for the expiry can fire while the wall clock is a few milliseconds short of it.
        var clock = new FakeTimeProvider(SharedAccessSignature.ExpiryOf(se) - TimeSpan.FromMilliseconds(5));
        Assert.False(SharedAccessSignature.IsExpired(se, clock.GetUtcNow()));

        var waiting = SharedAccessSignature.UntilExpired(se, clock, TestContext.Current.CancellationToken);

        Assert.False(waiting.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(4));
        Assert.False(waiting.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        await waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.True(SharedAccessSignature.IsExpired(se, clock.GetUtcNow()));
        Assert.True(SharedAccessSignature.UntilExpired(se, clock, TestContext.Current.CancellationToken).IsCompleted); // already expired: at once
    }
}
