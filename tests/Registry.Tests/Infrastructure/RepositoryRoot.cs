namespace Registry.Tests.Infrastructure;

/// <summary>The repository's root folder (the one holding Registry.Orleans.sln), found above the test binaries.</summary>
public static class RepositoryRoot
{
    public static string Folder { get; } = Find();

    private static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Registry.Orleans.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException($"Cannot find the repository root (Registry.Orleans.sln) above {AppContext.BaseDirectory}.");
    }
}
