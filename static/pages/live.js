/**
 * The run pages' only script, framework-free, served as a static asset (outside the Worker script). It
 * follows the subject's live events over the WebSocket and, after each burst, fetches the page again and swaps
 * in what changed: the status line (an aria-live region, so it is announced) and every `data-swap` element
 * whose markup differs. The server renders every state, so the script knows nothing about runs. A dropped
 * socket is reconnected with `since`, and a final page closes it (wrangler dev holds a finished socket open
 * for ~10 s).
 */
(() => {
  const main = document.querySelector("main");
  let since = +main.dataset.since,
    socket,
    timer,
    busy,
    dirty,
    retry = 1e3;
  const swap = (doc) => {
    for (const next of doc.querySelectorAll("[data-swap]")) {
      const old = document.getElementById(next.id);
      if (old && old.outerHTML !== next.outerHTML) old.replaceWith(next);
    }
    const status = document.getElementById("status"),
      text = doc.getElementById("status").innerHTML;
    if (status.innerHTML !== text) status.innerHTML = text;
    document.title = doc.title;
    main.dataset.live = doc.querySelector("main").dataset.live || "";
    if (!main.dataset.live) socket.close();
  };
  const refresh = async () => {
    if (busy) {
      dirty = true;
      return;
    }
    busy = true;
    do {
      dirty = false;
      try {
        const response = await fetch(location.href, { cache: "no-store" });
        if (response.ok) swap(new DOMParser().parseFromString(await response.text(), "text/html"));
      } catch {}
    } while (dirty);
    busy = false;
  };
  const connect = () => {
    if (!main.dataset.live) return;
    socket = new WebSocket(`${location.origin.replace("http", "ws")}${main.dataset.live}&since=${since}`);
    socket.onopen = () => {
      retry = 1e3;
    };
    socket.onmessage = (event) => {
      const { seq } = JSON.parse(event.data);
      if (seq <= since) return;
      since = seq;
      clearTimeout(timer);
      timer = setTimeout(refresh, 200);
    };
    socket.onclose = () => {
      if (!main.dataset.live) return;
      refresh();
      retry = Math.min(retry * 2, 3e4);
      setTimeout(connect, retry);
    };
  };
  connect();
})();
