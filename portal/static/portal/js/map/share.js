// The map page's sharing: the offline file's link and the embed snippet follow the filters, and a
// button copies the snippet (shown only with script; without it the text can be selected).

function attribute(text) {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
}

// Points the download link and the snippet's iframe at the view `data` (data.json) shows.
export function updateShare(data) {
  const link = document.getElementById("export-html");
  if (link && data.urls.download) {
    link.setAttribute("href", data.urls.download);
  }
  const snippet = document.getElementById("embed-snippet");
  if (snippet && data.urls.embed) {
    const url = new URL(data.urls.embed, window.location.href).href;
    snippet.value = snippet.value.replace(/src="[^"]*"/, `src="${attribute(url)}"`);
  }
}

export function wireShare() {
  const snippet = document.getElementById("embed-snippet");
  const button = document.getElementById("copy-embed");
  const status = document.getElementById("copy-status");
  if (!snippet || !button || !status) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(snippet.value);
      status.textContent = gettext("Copied: paste it into your page's HTML.");
    } catch (error) {
      snippet.focus();
      snippet.select();
      status.textContent = gettext("Copying was not allowed: the snippet is selected, copy it with Ctrl+C (⌘C on a Mac).");
    }
  });
}
