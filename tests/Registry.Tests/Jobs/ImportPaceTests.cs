using Registry.Grains.Jobs;

namespace Registry.Tests.Jobs;

/// <summary>An import keeps as many chunks in flight as storage answers in time: halved on unanswered lines, grown back one by one.</summary>
public sealed class ImportPaceTests
{
    [Fact]
    public void A_chunk_with_unanswered_lines_halves_the_window_down_to_one_and_clean_chunks_grow_it_back_by_one_up_to_the_setting()
    {
        var pace = new ImportPace(6);
        var windows = new List<int> { pace.Window };
        foreach (var unanswered in new[] { 3, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 2 })
        {
            pace.Ended(unanswered);
            windows.Add(pace.Window);
        }

        Assert.Equal([6, 3, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 3], windows);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void A_setting_below_one_still_keeps_one_chunk_in_flight(int most)
    {
        var pace = new ImportPace(most);
        pace.Ended(0);

        Assert.Equal(1, pace.Window);
    }
}
