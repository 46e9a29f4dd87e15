using Grace.Data;
using Grace.Engine;
using Grace.Web;

var builder = WebApplication.CreateBuilder(args);

builder.AddGraceConfiguration();
builder.AddGraceData();
builder.AddGraceEngine();
builder.AddGraceWeb();

var app = builder.Build();
app.MapGrace();
app.Run();

/// <summary>The entry point, visible to the tests' <c>WebApplicationFactory</c>.</summary>
public partial class Program;
