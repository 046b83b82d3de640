/// `GET /`: the page of `gradcam serve`, self-contained (no external asset).
/// An image is picked, dropped anywhere on the page, or taken from the examples.
/// It asks the JSON API for the models and examples, posts the chosen image
/// and options to `/api/explain`, and shows the export's own report.html —
/// every token clickable, image | map | guided map side by side, attention
/// beside — in a frame, with the n-best hypotheses and the zip to download.
/// Changing the method, layer, score, normalisation, colour map, opacity or
/// the counterfactual toggle explains again in place.
///
/// Opened as `/?selftest` the page checks itself: it picks the first example,
/// explains it with a captioner as a click on Explain would, clicks the third
/// word in the report and checks that exactly its map is shown, then asks a
/// VQA model the page's question, and writes `SELFTEST PASS …` or
/// `SELFTEST FAIL reason` into `<pre id=selftest>`.
let servePage = """
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gradcam</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5em 2em; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 0.6em; }
form { display: grid; gap: 0.5em; max-width: 70em; }
fieldset { border: 1px solid #ccc; border-radius: 6px; padding: 0.4em 0.8em; display: flex; flex-wrap: wrap; gap: 0.4em 1.2em; align-items: center; }
fieldset[disabled] { display: none; }
legend { font-weight: 600; }
label { white-space: nowrap; }
input[type=text] { width: 22em; }
input[type=number] { width: 4em; }
#examples button { padding: 0; border: 2px solid transparent; background: none; cursor: pointer; }
#examples button[aria-pressed=true] { border-color: #222; }
#examples img, #preview { height: 56px; vertical-align: middle; }
#status { min-height: 1.4em; }
#status.error { color: #b00; font-weight: 600; }
#hypotheses button { font: inherit; margin: 0.1em; padding: 0.2em 0.6em; border: 1px solid #999; border-radius: 4px; background: #f4f4f4; cursor: pointer; }
#hypotheses button[aria-pressed=true] { background: #222; color: #fff; }
#report { width: 100%; height: 80vh; border: 1px solid #ccc; border-radius: 6px; }
.warning { color: #a60; }
</style>
</head>
<body>
<h1>gradcam: where does each word look?</h1>
<form id="form">
  <fieldset><legend>model</legend>
    <label>model <select id="model" name="model"></select></label> <span id="task"></span>
  </fieldset>
  <fieldset><legend>image</legend>
    <input type="file" id="file" accept="image/png,image/jpeg"> <span>(or drop one on the page) or an example:</span> <span id="examples"></span>
    <img id="preview" alt="" hidden>
  </fieldset>
  <fieldset data-task="captioning"><legend>caption</legend>
    <label>explain this caption <input type="text" name="caption" placeholder="empty: the model's own (beam search)"></label>
    <label>beam <input type="number" name="beam" value="3" min="1" max="20"></label>
    <label>n-best <input type="number" name="nbest" value="3" min="1" max="20"></label>
  </fieldset>
  <fieldset data-task="vqa"><legend>question</legend>
    <label>question <input type="text" name="question" list="forms" value="what color is the circle?"></label>
    <label>answer <input type="text" name="answer" list="answers" placeholder="empty: the top answers"></label>
    <label>top <input type="number" name="top" value="5" min="1" max="50"></label>
    <datalist id="forms"></datalist><datalist id="answers"></datalist>
  </fieldset>
  <fieldset data-task="classification"><legend>class</legend>
    <label>class <input type="text" name="class" list="classes" placeholder="empty: the top classes"></label>
    <label>top <input type="number" name="top" value="5" min="1" max="50"></label>
    <datalist id="classes"></datalist>
  </fieldset>
  <fieldset id="options"><legend>explanation</legend>
    <label>method <select name="method">
      <option>gradcam</option><option>gradcam++</option><option>hirescam</option><option>layercam</option>
      <option>xgradcam</option><option>scorecam</option><option>eigencam</option><option>guided-backprop</option><option>guided-gradcam</option>
    </select></label>
    <label>layer <select name="layer"></select></label>
    <label>score <select name="score"><option value="">the task's default</option><option>logprob</option><option>logit</option><option>prob</option></select></label>
    <label>normalize <select name="normalize"><option>token</option><option>sequence</option><option>none</option></select></label>
    <label>colour map <select name="colormap"><option>jet</option><option>viridis</option><option>turbo</option></select></label>
    <label>opacity <input type="range" name="alpha" min="0" max="1" step="0.05" value="0.5"></label>
    <label><input type="checkbox" name="counterfactual"> counterfactual</label>
    <button id="go" type="submit">Explain</button>
  </fieldset>
</form>
<p id="status" role="status"></p>
<ul id="warnings"></ul>
<div id="hypotheses"></div>
<p><a id="download" hidden>download this explanation (the export folder, zip)</a></p>
<iframe id="report" title="the explanation" hidden></iframe>
<pre id="selftest" hidden></pre>
<script>
"use strict";
var models = [], chosen = null, lastResults = [];
var $ = function (id) { return document.getElementById(id); };

function model() { return models.filter(function (m) { return m.name === $("model").value; })[0]; }

function fill(list, values) {
  list.innerHTML = "";
  values.forEach(function (v) { var o = document.createElement("option"); o.value = v; list.appendChild(o); });
}

function modelChanged() {
  var m = model();
  if (!m) return;
  $("task").textContent = m.task;
  document.querySelectorAll("fieldset[data-task]").forEach(function (f) { f.disabled = f.dataset.task !== m.task; });
  var layer = document.querySelector("[name=layer]");
  layer.innerHTML = "";
  m.layers.forEach(function (name) {
    var o = document.createElement("option");
    o.textContent = name;
    o.selected = name === m.layer;
    layer.appendChild(o);
  });
  document.querySelector("[name=method]").value = m.method;
  fill($("answers"), m.answers || []);
  fill($("classes"), m.classes || []);
  fill($("forms"), m.question_forms || []);
}

function status(text, error) { $("status").textContent = text; $("status").className = error ? "error" : ""; }

function choose(file) {
  chosen = file;
  $("preview").src = URL.createObjectURL(file);
  $("preview").hidden = false;
}

function show(k) {
  var r = lastResults[k];
  $("hypotheses").querySelectorAll("button").forEach(function (b, i) { b.setAttribute("aria-pressed", String(i === k)); });
  $("download").href = r.zip;
  $("download").hidden = false;
  $("report").hidden = false;
  return new Promise(function (resolve) {
    $("report").onload = function () { resolve(r); };
    $("report").src = r.report;
  });
}

function explain() {
  if (!chosen) { status("choose an image or an example first", true); return Promise.reject(new Error("no image")); }
  var form = new FormData();
  form.append("image", chosen, chosen.name);
  var ownCaption = document.querySelector("[name=caption]").value !== "";
  document.querySelectorAll("#form [name]").forEach(function (input) {
    if (input.closest("fieldset").disabled || input.name === "model") return;
    if (input.name === "nbest" && ownCaption) return;  // n-best lists beam hypotheses, not a given caption
    if (input.type === "checkbox") form.append(input.name, input.checked ? "true" : "false");
    else if (input.value !== "") form.append(input.name, input.value);
  });
  form.append("model", $("model").value);
  status("explaining…");
  var started = performance.now();
  return fetch("/api/explain", { method: "POST", body: form }).then(function (response) {
    return response.json().then(function (body) {
      if (!response.ok) throw new Error(body.error || response.statusText);
      return body;
    });
  }).then(function (body) {
    lastResults = body.results;
    $("warnings").innerHTML = "";
    body.warnings.forEach(function (w) { var li = document.createElement("li"); li.className = "warning"; li.textContent = w; $("warnings").appendChild(li); });
    $("hypotheses").innerHTML = "";
    if (lastResults.length > 1) {
      lastResults.forEach(function (r, k) {
        var b = document.createElement("button");
        b.type = "button";
        var logp = r.manifest.beam ? " (log p " + r.manifest.beam.logprob.toFixed(3) + ")" : "";
        b.textContent = (k + 1) + ". " + (r.manifest.text || "") + logp;
        b.onclick = function () { show(k); };
        $("hypotheses").appendChild(b);
      });
    }
    status("explained in " + Math.round(performance.now() - started) + " ms");
    return show(0);
  }).catch(function (error) { status(error.message, true); throw error; });
}

function loadExamples() {
  return fetch("/api/examples").then(function (r) { return r.json(); }).then(function (examples) {
    examples.forEach(function (e) {
      var b = document.createElement("button");
      b.type = "button";
      b.title = e.name;
      b.innerHTML = "<img alt=\\"" + e.name + "\\">";
      b.querySelector("img").src = e.url;
      b.onclick = function () { pickExample(e).then(explain).catch(function () {}); };
      $("examples").appendChild(b);
    });
    return examples;
  });
}

function pickExample(e) {
  $("examples").querySelectorAll("button").forEach(function (b) { b.setAttribute("aria-pressed", String(b.title === e.name)); });
  return fetch(e.url).then(function (r) { return r.blob(); }).then(function (blob) { choose(new File([blob], e.name, { type: blob.type })); });
}

function selftest(examples) {
  var out = $("selftest");
  var captioner = models.filter(function (m) { return m.task === "captioning"; })[0];
  function done(text) { out.textContent = text; out.hidden = false; }
  if (!captioner || !examples.length) { done("SELFTEST FAIL no captioning model or no example image"); return; }
  $("model").value = captioner.name;
  modelChanged();
  pickExample(examples[0]).then(explain).then(function () {
    var page = $("report").contentDocument, buttons = page.querySelectorAll("button.token");
    if (buttons.length < 3) throw new Error("the report has " + buttons.length + " words");
    buttons[2].click();
    var shown = Array.prototype.filter.call(page.querySelectorAll("[id^=map-]"), function (f) { return !f.hidden; });
    if (shown.length !== 1 || shown[0].id !== "map-2") throw new Error("after clicking the third word the maps shown are: " + shown.map(function (f) { return f.id; }).join(", "));
    var img = shown[0].querySelector("img");
    if (!img || img.naturalWidth === 0) throw new Error("the third word's map did not decode");
    if (!/export\\.zip$/.test($("download").href)) throw new Error("no download link");
    var verdict = "clicked \\"" + buttons[2].textContent + "\\" of " + buttons.length + " words";
    // Then a question to a VQA model, as typed on the page.
    var vqa = models.filter(function (m) { return m.task === "vqa"; })[0];
    if (!vqa) return verdict;
    $("model").value = vqa.name;
    modelChanged();
    return explain().then(function () {
      var answers = $("report").contentDocument.querySelectorAll("button.token");
      if (!answers.length) throw new Error("the VQA report has no answers");
      return verdict + "; \\"" + document.querySelector("[name=question]").value + "\\" answered " + answers.length + ", first \\""
        + answers[0].textContent + "\\"";
    });
  }).then(function (verdict) { done("SELFTEST PASS " + verdict); }).catch(function (error) { done("SELFTEST FAIL " + error.message); });
}

// An image dropped anywhere on the page is chosen, as if picked.
document.addEventListener("dragover", function (event) { event.preventDefault(); });
document.addEventListener("drop", function (event) {
  event.preventDefault();
  var file = event.dataTransfer.files[0];
  if (file) { choose(file); explain().catch(function () {}); }
});
$("model").onchange = function () { modelChanged(); if (chosen) explain().catch(function () {}); };
$("file").onchange = function () { if (this.files[0]) { choose(this.files[0]); explain().catch(function () {}); } };
$("form").onsubmit = function (event) { event.preventDefault(); explain().catch(function () {}); };
$("options").querySelectorAll("select, input").forEach(function (input) {
  input.addEventListener("change", function () { if (chosen) explain().catch(function () {}); });
});

fetch("/api/models").then(function (r) { return r.json(); }).then(function (list) {
  models = list;
  list.forEach(function (m) { var o = document.createElement("option"); o.value = m.name; o.textContent = m.name + " (" + m.task + ")"; $("model").appendChild(o); });
  modelChanged();
  return loadExamples();
}).then(function (examples) {
  if (location.search === "?selftest") selftest(examples);
}).catch(function (error) { status("cannot reach the server: " + error.message, true); });
</script>
</body>
</html>
"""
