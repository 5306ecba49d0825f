using Registry.Tests.Infrastructure;

namespace Registry.Tests.Hostile;

/// <summary>
/// A device path whose percent-escapes do not decode to UTF-8 must not be taken literally, or
/// /devices/a%FF and /devices/a%25FF would name the same device "a%FF": 400 ArgumentInvalid, nothing created.
/// </summary>
public sealed class MalformedEscapeTests(HostileRegistryFixture registry) : IClassFixture<HostileRegistryFixture>
{
    // Escapes that are well-formed syntax but not UTF-8. (Syntactically broken ones such as %ZZ, a trailing % or %2
    // never reach a server from HttpClient: System.Uri re-escapes them as %25ZZ, %25 and %252, which name real ids.)
    public static TheoryData<string> Segments => new("hostile%FFnew", "hostile%C3new", "hostile%C3%28new", "hostile%ED%A0%80new", "hostile%F8%88%80%80%80new", "hostile%C0%AFnew");

    [Theory]
    [MemberData(nameof(Segments))]
    public Task A_path_with_an_undecodable_percent_escape_is_refused_and_creates_nothing(string segment) =>
        registry.AssertRefusedAndHarmlessAsync(HostileCases.Send("malformed escape", segment, HttpMethod.Put,
            $"devices/{segment}?{RegistryHttp.ApiVersion}", HostileCases.Invalid, body: """{"status":"enabled"}"""));
}
