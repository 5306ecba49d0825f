using Registry.Tests.Infrastructure;

namespace Registry.Tests.Docs;

/// <summary>
/// The client app code the README quotes is the sample it names, which the suite builds and runs
/// (<c>GatewayProcessTests</c>): a review (2026-12-07) built the quoted code, an older copy without the sample's id
/// check and failover retry, and it crashed where the sample says one line.
/// </summary>
public sealed class ReadmeSampleTests
{
    [Fact]
    public void The_client_app_code_the_readme_quotes_is_the_sample_it_names()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot.Folder, "README.md"));
        var sample = File.ReadAllText(Path.Combine(RepositoryRoot.Folder, "samples", "Registry.Client.Sample", "Program.cs"));
        const string Names = "`samples/Registry.Client.Sample` is this app";
        var named = readme.IndexOf(Names, StringComparison.Ordinal);
        Assert.True(named >= 0, "the README no longer names the sample");
        var start = readme.IndexOf("```csharp\n", named, StringComparison.Ordinal) + "```csharp\n".Length;
        var end = readme.IndexOf("```\n", start, StringComparison.Ordinal);

        Assert.Equal(sample.ReplaceLineEndings("\n"), readme[start..end].ReplaceLineEndings("\n"));
    }
}
