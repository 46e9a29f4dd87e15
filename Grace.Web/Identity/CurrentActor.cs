using System.Security.Claims;
using Grace.Engine.Missions;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server.Circuits;

namespace Grace.Web.Identity;

/// <summary>The signed-in person of this circuit as the engine's <see cref="Actor"/>, with the address they connect from.</summary>
public sealed class CurrentActor(AuthenticationStateProvider authentication)
{
    internal string? RemoteAddress { get; set; }

    public async Task<Actor> GetAsync()
    {
        var user = (await authentication.GetAuthenticationStateAsync()).User;
        return FromPrincipal(user, RemoteAddress);
    }

    public static Actor FromPrincipal(ClaimsPrincipal user, string? remoteAddress) => user.Identity?.IsAuthenticated == true
        ? new Actor(user.Identity.Name ?? "unknown", user.FindAll(ClaimTypes.Role).Select(c => c.Value).ToList(), remoteAddress)
        : new Actor("anonymous", [], remoteAddress);
}

/// <summary>Notes the client's address when its circuit opens, for the audit log.</summary>
internal sealed class ClientAddressCircuitHandler(IHttpContextAccessor http, CurrentActor actor) : CircuitHandler
{
    public override Task OnCircuitOpenedAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        actor.RemoteAddress = http.HttpContext?.Connection.RemoteIpAddress?.ToString();
        return Task.CompletedTask;
    }
}
