using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary>
/// <c>walrusctl auth</c>: the replicated authorization state. <c>list</c>, <c>whoami</c>; <c>role put|delete</c>;
/// <c>token create|revoke</c>; <c>grant</c> and <c>revoke</c> for client-certificate identities. Changes need admin.
/// </summary>
internal static class AuthCommands
{
    public static Command Create(CliConsole console, ConnectionOptions connection)
    {
        var command = new Command("auth", "Roles, tokens and certificate grants, kept in the replicated state (every agent enforces the same rules)");
        command.Subcommands.Add(Listing(console, connection, "list", "Roles, tokens and grants (needs admin), and who you are", full: true));
        command.Subcommands.Add(Listing(console, connection, "whoami", "Your identity and roles", full: false));

        var role = new Command("role", "Roles: a set of permissions (append, read, tail, admin), optionally limited to a stream prefix");
        var roleName = new Argument<string>("name") { Description = "Role name" };
        var permissions = new Option<string>("--permissions") { Description = "Comma-separated: append, read, tail, admin", Required = true };
        var prefix = new Option<string?>("--stream-prefix") { Description = "Limit the role to streams whose name starts with this" };
        var put = new Command("put", "Create or replace a role") { roleName, permissions, prefix, ChangeJson() };
        put.SetAction((parse, ct) => Change(console, connection, parse, ct, (c, t) =>
            c.PutRoleAsync(parse.GetValue(roleName)!, Split(parse.GetValue(permissions)), parse.GetValue(prefix), t)));
        var deleteName = new Argument<string>("name") { Description = "Role name" };
        var delete = new Command("delete", "Delete a role") { deleteName, ChangeJson() };
        delete.SetAction((parse, ct) => Change(console, connection, parse, ct, (c, t) => c.DeleteRoleAsync(parse.GetValue(deleteName)!, t)));
        role.Subcommands.Add(put);
        role.Subcommands.Add(delete);
        command.Subcommands.Add(role);

        var token = new Command("token", "Bearer tokens, for clients that cannot hold a certificate");
        var tokenName = new Argument<string>("name") { Description = "Token name" };
        var roles = new Option<string>("--roles") { Description = "Comma-separated role names", Required = true };
        var create = new Command("create", "Create a token holding --roles and print its secret (shown only this once)") { tokenName, roles, ChangeJson() };
        create.SetAction((parse, ct) => Change(console, connection, parse, ct, (c, t) => c.CreateTokenAsync(parse.GetValue(tokenName)!, Split(parse.GetValue(roles)), t)));
        var revokeName = new Argument<string>("name") { Description = "Token name" };
        var revokeToken = new Command("revoke", "Revoke a token") { revokeName, ChangeJson() };
        revokeToken.SetAction((parse, ct) => Change(console, connection, parse, ct, (c, t) => c.RevokeTokenAsync(parse.GetValue(revokeName)!, t)));
        token.Subcommands.Add(create);
        token.Subcommands.Add(revokeToken);
        command.Subcommands.Add(token);

        command.Subcommands.Add(GrantCommand(console, connection, "grant", "Grant ROLE to the client-certificate IDENTITY", grant: true));
        command.Subcommands.Add(GrantCommand(console, connection, "revoke", "Take ROLE from the client-certificate IDENTITY", grant: false));
        return command;
    }

    private static Command GrantCommand(CliConsole console, ConnectionOptions connection, string name, string description, bool grant)
    {
        var identity = new Argument<string>("identity") { Description = "Certificate identity (SAN URI walrus://client/NAME, else the common name)" };
        var role = new Argument<string>("role") { Description = "Role name" };
        var command = new Command(name, description) { identity, role, ChangeJson() };
        command.SetAction((parse, ct) => Change(console, connection, parse, ct, (c, t) => c.GrantAsync(parse.GetValue(identity)!, parse.GetValue(role)!, grant, t)));
        return command;
    }

    private static Command Listing(CliConsole console, ConnectionOptions connection, string name, string description, bool full)
    {
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var command = new Command(name, description) { json };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(console, () => connection.Resolve(parse), async (client, token) =>
        {
            var state = await client.GetAuthAsync(token).ConfigureAwait(false);
            await Print(console, state, parse.GetValue(json), full).ConfigureAwait(false);
            return CliRunner.Ok;
        }, ct));
        return command;
    }

    /// <summary>The <c>--json</c> of a change: print <c>{"index": I, "token": T|null}</c>.</summary>
    private static Option<bool> ChangeJson() => new("--json") { Description = "Print one JSON object: index (where the change was applied), token (token create only, else null)" };

    private static Task<int> Change(CliConsole console, ConnectionOptions connection, ParseResult parse, CancellationToken ct, Func<WalrusClient, CancellationToken, Task<AuthState>> change) =>
        ClusterCommand.RunAsync(console, () => connection.Resolve(parse), async (client, token) =>
        {
            var state = await change(client, token).ConfigureAwait(false);
            if (parse.GetValue<bool>("--json"))
            {
                await console.Out.WriteLineAsync(JsonSerializer.Serialize(new Dictionary<string, object?> { ["index"] = state.Index, ["token"] = state.Token })).ConfigureAwait(false);
                if (state.Token is not null)
                {
                    await console.Error.WriteLineAsync("walrusctl: the token is shown only once; agents keep only its SHA-256").ConfigureAwait(false);
                }
            }
            else if (state.Token is { } secret)
            {
                await console.Out.WriteLineAsync(secret).ConfigureAwait(false);
                await console.Error.WriteLineAsync("walrusctl: the token above is shown only once; agents keep only its SHA-256").ConfigureAwait(false);
            }
            else
            {
                await console.Out.WriteLineAsync($"applied at index {state.Index}").ConfigureAwait(false);
            }

            return CliRunner.Ok;
        }, ct);

    private static async Task Print(CliConsole console, AuthState state, bool json, bool full)
    {
        if (json)
        {
            await console.Out.WriteLineAsync(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["caller"] = state.Caller,
                ["callerRoles"] = state.CallerRoles,
                ["roles"] = full ? state.Roles.Select(r => new { name = r.Name, permissions = r.Permissions, streamPrefix = r.StreamPrefix }) : null,
                ["tokens"] = full ? state.Tokens.Select(t => new { name = t.Name, roles = t.Roles }) : null,
                ["grants"] = full ? state.Grants.Select(g => new { identity = g.Name, roles = g.Roles }) : null,
            })).ConfigureAwait(false);
            return;
        }

        await console.Out.WriteLineAsync($"you are {state.Caller} with roles: {(state.CallerRoles.Count == 0 ? "(none)" : string.Join(", ", state.CallerRoles))}").ConfigureAwait(false);
        if (!full)
        {
            return;
        }

        var table = new Table().AddColumns("kind", "name", "permissions / roles", "stream prefix");
        table.AddRow("role", "admin", "append, read, tail, admin (built in)", "");
        foreach (var r in state.Roles)
        {
            table.AddRow("role", Markup.Escape(r.Name), Markup.Escape(string.Join(", ", r.Permissions)), Markup.Escape(r.StreamPrefix));
        }

        foreach (var t in state.Tokens)
        {
            table.AddRow("token", Markup.Escape(t.Name), Markup.Escape(string.Join(", ", t.Roles)), "");
        }

        foreach (var g in state.Grants)
        {
            table.AddRow("grant", Markup.Escape(g.Name), Markup.Escape(string.Join(", ", g.Roles)), "");
        }

        console.Ansi.Write(table);
    }

    private static string[] Split(string? list) =>
        (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
