using Xunit.Sdk;
using Xunit.v3;

[assembly: TestCollectionOrderer(typeof(Registry.Tests.Failure.FailureCollectionFirst))]

namespace Registry.Tests.Failure;

/// <summary>
/// The process-level failure tests run one after another: each starts three or four registry processes and an import or
/// a thousand beating devices, and two such clusters at once on two cores starved Azurite and the silos' start
/// (a table creation timed out, a read waited past the storage bound) rather than testing the failure at hand.
/// </summary>
[CollectionDefinition(Name)]
public sealed class FailureCollection
{
    public const string Name = "Process-level failure tests";
}

/// <summary>
/// The import kill (<see cref="ImportKillTests"/>), alone: xunit runs a collection that disables parallelization after
/// every parallel one has ended, with nothing beside it. An import keeps both cores of a 2-core machine busy by itself
/// (396 CPU-s in a 210 s run of 100,000 lines alone); beside the in-process tests its storage answered the import's
/// writes past the storage timeout from its first chunk, each line timed out was applied again, and the import never
/// caught up: a fresh-clone suite and CI both failed it (2026-12-05, 100,000 lines: 117,000 lines timed out and resent,
/// 277 MB of silo logs, the test's 14-minute bound spent; in CI the job failed).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ImportKillCollection
{
    public const string Name = "Process-level failure tests: the import kill, alone";
}

/// <summary>
/// Starts the failure tests' collection first. It runs one test after another for about eight and a half minutes (523 s
/// of a 533 s test run from a fresh clone with the 100,000-line import, 2026-12-03; 404 s of 474 s with 10,000 lines),
/// the longest single path of the suite; started in its turn (behind the in-process collections, two at a time on two
/// cores) it began
/// three minutes late and the suite took 15 min. First, it runs beside the rest.
/// </summary>
public sealed class FailureCollectionFirst : ITestCollectionOrderer
{
    public IReadOnlyCollection<TTestCollection> OrderTestCollections<TTestCollection>(IReadOnlyCollection<TTestCollection> testCollections)
        where TTestCollection : notnull, ITestCollection =>
        [.. testCollections.OrderBy(c => c.TestCollectionDisplayName == FailureCollection.Name ? 0 : 1)];
}
