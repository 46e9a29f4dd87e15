// Grace's own few lines of script, served from 'self' as the Content-Security-Policy asks.
window.grace = {
    // Dark mode lives in a cookie so the server renders the right theme on the next load (no flash).
    setDarkMode: function (dark) {
        document.cookie = "grace-theme=" + (dark ? "dark" : "light") + "; path=/; max-age=31536000; SameSite=Lax";
    }
};

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
