using Microsoft.AspNetCore.Identity;

namespace Grace.Data.Entities;

/// <summary>A person who signs in to the console.</summary>
public class GraceUser : IdentityUser
{
    public string? DisplayName { get; set; }
}
