using Microsoft.Playwright;

namespace Grace.Tests.Browser;

/// <summary>
/// The screenshots in docs/screenshots, rendered by the browser tests as they pass through each page.
/// A CI run (CI=true) renders none: they are for the docs, a clean clone's copies are thrown away, and a
/// full-page screenshot costs the run's time on two cores.
/// </summary>
internal static class DocScreenshots
{
    public static bool Wanted => !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static async Task TakeAsync(IPage page, string name)
    {
        if (Wanted)
        {
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Folder(), $"{name}.png"), FullPage = true });
        }
    }

    private static string Folder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Grace.Console.sln")))
            {
                return Directory.CreateDirectory(Path.Combine(dir.FullName, "docs", "screenshots")).FullName;
            }
        }

        throw new InvalidOperationException("Grace.Console.sln not found above the test assembly: the docs folder is unknown.");
    }
}
