// Grace's own few lines of script, served from 'self' as the Content-Security-Policy asks.
// The navigation shell renders statically (docs/decisions/0026-static-shell.md): its menu button and
// dark-mode toggle live here, as document-level listeners that survive Blazor's enhanced navigation.
window.grace = {
    // Dark mode lives in a cookie so the server renders the right theme on the next load (no flash).
    setDarkMode: function (dark) {
        document.cookie = "grace-theme=" + (dark ? "dark" : "light") + "; path=/; max-age=31536000; SameSite=Lax";
    },

    // The static shell's live figures, called by the page's PageChrome when they change (the shell has no
    // interactive roots of its own: docs/decisions/0033-shell-figures-without-islands.md). Writes the same chips
    // the server renders (KillSwitchBanner.razor, PendingBadge.razor) into their slots, with the slots' classes.
    // The next enhanced navigation replaces the whole shell with the server's rendering, so nothing here lasts.
    shell: function (killSwitchEngaged, pendingApprovals) {
        function chip(slotId, id, text, role) {
            var slot = document.getElementById(slotId);
            var shown = document.getElementById(id);
            if (!slot) {
                return;
            }

            if (text === null) {
                if (shown) {
                    shown.remove();
                }

                return;
            }

            if (!shown) {
                shown = document.createElement("span");
                shown.id = id;
                shown.className = slot.getAttribute("data-chip") || "";
                if (role) {
                    shown.setAttribute("role", role);
                }

                var content = document.createElement("span");
                content.className = "mud-chip-content";
                shown.appendChild(content);
                slot.appendChild(shown);
            }

            shown.firstChild.textContent = text;
        }

        chip("grace-kill-switch", "kill-switch-banner", killSwitchEngaged ? "Kill switch engaged" : null, "status");
        chip("grace-pending", "nav-pending", pendingApprovals > 0 ? String(pendingApprovals) : null, null);
    },

    // The lists render per request (docs/decisions/draft-lists-per-request.md): their table is static HTML marked
    // data-grace-live, and the page's LiveRefresh island calls this when their data changed (at most once per 250 ms).
    // Fetch the page again, as it is addressed now, and put each fresh data-grace-live region in place of the old one
    // (by id). Only those regions: the filters, what is being typed and the island stay as they are. One fetch at a
    // time; a call during one fetches once more after it.
    refreshLive: function () {
        var state = window.grace._refresh || (window.grace._refresh = { busy: false, again: false });
        if (state.busy) {
            state.again = true;
            return;
        }

        if (!document.querySelector("[data-grace-live]")) {
            return;
        }

        state.busy = true;
        var url = location.href;
        fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
            .then(function (response) {
                if (response.redirected && new URL(response.url).pathname.indexOf("/account/") === 0) {
                    // Signed out meanwhile: go where the server sends people.
                    location.assign(response.url);
                    return null;
                }

                return response.ok ? response.text() : null;
            })
            .then(function (html) {
                // A navigation since the fetch began shows other data; this answer is for an address no longer shown.
                if (html === null || location.href !== url) {
                    return;
                }

                var fresh = new DOMParser().parseFromString(html, "text/html");
                document.querySelectorAll("[data-grace-live]").forEach(function (region) {
                    var replacement = region.id ? fresh.getElementById(region.id) : null;
                    if (replacement && replacement.innerHTML !== region.innerHTML) {
                        region.replaceWith(document.importNode(replacement, true));
                    }
                });
            })
            .catch(function () {
                // The server is unreachable: the table stays as it was, and the next event tries again.
            })
            .finally(function () {
                state.busy = false;
                if (state.again) {
                    state.again = false;
                    window.grace.refreshLive();
                }
            });
    }
};

// The lists' filters: GET forms marked data-grace-filters (the lists render per request, no circuit holds them).
// A changed select or switch applies the form at once, the search box after a pause in typing (300 ms, as the
// circuit's search box did) or at once on Enter. Applying is an enhanced navigation that replaces the address in
// place (no reload, no history entry), as the filters did in the circuit; without Blazor's script, a plain load.
(function () {
    var pause = null;
    var typed = null; // { id, value } of the search box last typed into, to keep it when the page comes back

    function formOf(element) {
        return element instanceof Element ? element.closest("form[data-grace-filters]") : null;
    }

    function addressOf(form) {
        var url = new URL(form.getAttribute("action") || location.pathname, location.href);
        var query = new URLSearchParams();
        new FormData(form).forEach(function (value, name) {
            var text = String(value).trim();
            if (text !== "") {
                query.append(name, text);
            }
        });
        url.search = query.toString();
        return url.toString();
    }

    function apply(form) {
        clearTimeout(pause);
        pause = null;
        var address = addressOf(form);
        if (address === location.href) {
            return;
        }

        if (window.Blazor && typeof window.Blazor.navigateTo === "function") {
            window.Blazor.navigateTo(address, { replaceHistoryEntry: true });
        } else {
            location.replace(address);
        }
    }

    document.addEventListener("change", function (event) {
        var form = formOf(event.target);
        // The search box reports "change" when it loses focus; its text is applied by typing and Enter instead.
        if (form && event.target.type !== "search") {
            apply(form);
        }
    });

    document.addEventListener("input", function (event) {
        var form = formOf(event.target);
        if (form && event.target.type === "search") {
            typed = { id: event.target.id, value: event.target.value };
            clearTimeout(pause);
            pause = setTimeout(function () {
                apply(form);
            }, 300);
        }
    });

    // Enter in the search box submits the form: apply it now, in place.
    document.addEventListener("submit", function (event) {
        var form = event.target instanceof HTMLFormElement && event.target.matches("[data-grace-filters]") ? event.target : null;
        if (form) {
            event.preventDefault();
            apply(form);
        }
    }, true);

    // Blazor's enhanced navigation writes the server's value into the search box when the page comes back; what was
    // typed while it was on its way is kept (and applied in turn) instead of being overwritten.
    window.grace._keepTyped = function () {
        var box = typed ? document.getElementById(typed.id) : null;
        if (box && document.activeElement === box && box.value !== typed.value) {
            box.value = typed.value;
            var form = formOf(box);
            if (form) {
                clearTimeout(pause);
                pause = setTimeout(function () {
                    apply(form);
                }, 300);
            }
        }
    };

    // Pages rendered per request write times in the zone this cookie names (ViewerClock.ZoneCookie); pages with a
    // circuit ask the browser themselves. The first time a browser opens the console the cookie is not there yet:
    // set it, and fetch the live table again in the viewer's zone.
    try {
        var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
        var current = document.cookie.split("; ").filter(function (c) { return c.indexOf("grace-zone=") === 0; }).map(function (c) { return decodeURIComponent(c.substring(11)); })[0];
        if (zone && zone !== current) {
            document.cookie = "grace-zone=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
            if (document.readyState === "loading") {
                document.addEventListener("DOMContentLoaded", function () {
                    window.grace.refreshLive();
                });
            } else {
                window.grace.refreshLive();
            }
        }
    } catch (e) {
        // No Intl time zone: times stay in UTC, and say so.
    }
})();

(function () {
    // Below MudBlazor's md breakpoint the drawer opens over the page; above it, beside the page.
    var phone = window.matchMedia("(max-width: 959.98px)");
    // What the person chose on this tab: null until they press the menu button.
    var wideClosed = false;
    var phoneOpen = false;

    function apply() {
        var shell = document.getElementById("grace-shell");
        var button = document.getElementById("grace-menu");
        if (!shell || !button) {
            return;
        }

        shell.classList.toggle("grace-menu-closed", !phone.matches && wideClosed);
        shell.classList.toggle("grace-menu-open", phone.matches && phoneOpen);
        button.setAttribute("aria-expanded", (phone.matches ? phoneOpen : !wideClosed) ? "true" : "false");
    }

    document.addEventListener("click", function (event) {
        var target = event.target instanceof Element ? event.target : null;
        if (!target) {
            return;
        }

        if (target.closest("#grace-menu")) {
            if (phone.matches) {
                phoneOpen = !phoneOpen;
            } else {
                wideClosed = !wideClosed;
            }

            apply();
        } else if (target.closest("#grace-drawer-overlay") || (phone.matches && phoneOpen && target.closest("#grace-drawer a"))) {
            // A tap beside the open menu, or on one of its links, closes it on a phone.
            phoneOpen = false;
            apply();
        } else if (target.closest("#dark-mode")) {
            var dark = target.closest("#dark-mode").getAttribute("data-dark") !== "true";
            window.grace.setDarkMode(dark);
            // The server renders the theme from the cookie: fetch this page again and patch it in (enhanced
            // navigation). The page's circuit and what was typed in it stay; only the static parts change.
            if (window.Blazor && typeof window.Blazor.navigateTo === "function") {
                window.Blazor.navigateTo(location.href, { replaceHistoryEntry: true });
            } else {
                location.reload();
            }
        }
    });

    document.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && phone.matches && phoneOpen) {
            phoneOpen = false;
            apply();
        }
    });

    phone.addEventListener("change", apply);
    document.addEventListener("DOMContentLoaded", apply);
    apply();

    // After an enhanced navigation the shell is the server's copy again: re-apply this tab's menu state, and
    // move focus to the new page's heading as FocusOnNavigate did when the router ran in the circuit.
    var lastPath = location.pathname;
    function afterEnhancedLoad() {
        apply();
        window.grace._keepTyped();
        if (location.pathname !== lastPath) {
            lastPath = location.pathname;
            var heading = document.querySelector("main h1");
            if (heading) {
                if (!heading.hasAttribute("tabindex")) {
                    heading.setAttribute("tabindex", "-1");
                }

                heading.focus({ preventScroll: true });
            }
        }

        // A page that asks for a field's focus (Learning's reason form, after a row's button picked a decision) gets
        // it as a full load would give it: enhanced navigation patches the page and leaves autofocus unread.
        var wanted = document.querySelector("main [autofocus]:not([disabled])");
        if (wanted) {
            wanted.focus();
        }
    }

    function hook() {
        if (window.Blazor && typeof window.Blazor.addEventListener === "function") {
            window.Blazor.addEventListener("enhancedload", afterEnhancedLoad);
            return true;
        }

        return false;
    }

    // blazor.web.js is loaded before this file, but Blazor is defined once it has started.
    if (!hook()) {
        document.addEventListener("DOMContentLoaded", function () {
            if (!hook()) {
                var tries = 0;
                var timer = setInterval(function () {
                    if (hook() || ++tries > 50) {
                        clearInterval(timer);
                    }
                }, 100);
            }
        });
    }
})();

// "/" focuses the page's search box (marked data-grace-search), unless someone is typing already.
document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) {
        return;
    }

    var active = document.activeElement;
    if (active && (active.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName))) {
        return;
    }

    var marked = document.querySelector("[data-grace-search]");
    if (!marked) {
        return;
    }

    var input = marked.matches("input, textarea") ? marked : marked.querySelector("input, textarea");
    if (input) {
        event.preventDefault();
        input.focus();
    }
});

// Approval countdowns tick here, in the browser, not on the server: a render a second per card cost every
// circuit on the Approvals page its share of the server's garbage (docs/benchmarks.md). The server renders
// the same text and bar whenever the page renders; this only moves them between renders. It writes into the
// nodes Blazor rendered (the text node's value, the bar's transform), never replaces them, so Blazor's next
// render of the card still finds its own nodes.
(function () {
    function pad(n) {
        return (n < 10 ? "0" : "") + n;
    }

    function tick() {
        var now = Date.now();
        document.querySelectorAll("[data-grace-expires]").forEach(function (box) {
            var expires = Number(box.getAttribute("data-grace-expires"));
            var requested = Number(box.getAttribute("data-grace-requested"));
            var text = box.querySelector(".approval-countdown");
            var bar = box.querySelector(".mud-progress-linear-bar");
            var progress = box.querySelector("[role=progressbar]");
            if (!expires || !text || !text.firstChild || text.firstChild.nodeType !== Node.TEXT_NODE) {
                return;
            }

            var left = Math.max(0, Math.floor((expires - now) / 1000));
            var percent = expires > requested ? Math.min(100, Math.max(0, (expires - now) / (expires - requested) * 100)) : 0;
            var hours = Math.floor(left / 3600);
            text.firstChild.nodeValue = left > 0
                ? "Expires in " + pad(Math.floor(left / 60) % 60) + ":" + pad(left % 60) + (hours >= 1 ? " (+" + hours + " h)" : "")
                : "Expired";
            if (bar) {
                bar.style.transform = "translateX(-" + (100 - percent).toFixed(2) + "%)";
            }

            if (progress) {
                progress.setAttribute("aria-valuenow", percent.toFixed(0));
                var red = left < 300;
                progress.classList.toggle("mud-progress-linear-color-error", red);
                progress.classList.toggle("mud-progress-linear-color-warning", !red);
            }
        });
    }

    setInterval(tick, 1000);
})();
