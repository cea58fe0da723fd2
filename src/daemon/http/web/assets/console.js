// groupsms console: enhancements only. Every page works without this script; with it the
// send form previews as you type (POST /v1/groups/{group}/broadcasts/preview), a broadcast's
// page follows its deliveries live (GET /v1/broadcasts/{id}/events, Server-Sent Events), and
// the import form reads a chosen CSV file. Both routes are the public API's, authenticated by
// the session cookie, with the session's CSRF token in X-CSRF-Token for the POST.
(function () {
  'use strict';
  var meta = document.querySelector('meta[name="csrf"]');
  var csrf = meta ? meta.getAttribute('content') : '';
  var texts = {};
  var block = document.getElementById('i18n');
  if (block) { try { texts = JSON.parse(block.textContent); } catch (e) { texts = {}; } }
  function t(k) { return texts[k] || k; }
  function slot(root, name) { return root.querySelector('[data-pv="' + name + '"]'); }
  function setText(el, v) { if (el) { el.textContent = v; } }

  // ---- Live preview of the send form ----
  var form = document.getElementById('send-form');
  var panel = document.getElementById('preview');
  if (form && panel && window.fetch) {
    var seq = 0;
    var timer = null;
    var render = function (ok, j, text) {
      var verdict = slot(panel, 'verdict');
      if (!ok) {
        verdict.className = 'verdict alert';
        verdict.textContent = t('api_error') + ': ' + ((j && j.error && j.error.message) || '');
        return;
      }
      if (j.refusal) {
        verdict.className = 'verdict alert';
        verdict.textContent = t('would_refuse') + ': ' + j.refusal.message;
      } else {
        verdict.className = 'verdict ok';
        verdict.textContent = t('would_accept');
      }
      setText(slot(panel, 'encoding'), j.encoding === 'ucs2' ? 'UCS-2' : 'GSM 7-bit');
      setText(slot(panel, 'parts'), j.parts + ' / ' + j.max_parts);
      setText(slot(panel, 'remaining'), String(j.remaining));
      setText(slot(panel, 'recipients'), String(j.recipients));
      var q = j.quota;
      var quota = slot(panel, 'quota');
      var parts = quota.textContent.split('·');
      var dayWord = (parts[0] || '').replace(/^[\s\d–-]+/, '').trim();
      var monthWord = (parts[1] || '').replace(/^[\s\d–-]+/, '').trim();
      quota.textContent = Math.max(0, q.day_limit - q.day_used) + ' ' + dayWord + ' · ' +
        Math.max(0, q.month_limit - q.month_used) + ' ' + monthWord;
      ['opted_out', 'invalid', 'sms_disabled', 'duplicate'].forEach(function (k) {
        setText(slot(panel, 'dropped-' + k), String(j.dropped[k]));
        // The names behind the count (the first few; the rest counted), in the <details>
        // that stays open or closed as the person left it.
        var list = slot(panel, 'names-' + k);
        if (!list) { return; }
        while (list.firstChild) { list.removeChild(list.firstChild); }
        var named = (j.left_out && j.left_out[k]) || [];
        named.forEach(function (m) {
          var li = document.createElement('li');
          li.setAttribute('data-member', m.handle);
          li.appendChild(document.createTextNode(m.name + ' '));
          var h = document.createElement('span');
          h.className = 'mono';
          h.textContent = m.handle;
          li.appendChild(h);
          list.appendChild(li);
        });
        if (j.dropped[k] > named.length) {
          var more = document.createElement('li');
          more.className = 'more';
          more.textContent = '… ' + (j.dropped[k] - named.length) + ' ' + t('and_more');
          list.appendChild(more);
        }
      });
      var words = [];
      j.sensitive.forEach(function (m) { if (words.indexOf(m.word) < 0) { words.push(m.word); } });
      setText(slot(panel, 'sensitive'), words.length ? words.join(', ') : '–');
      // The phone: header, the body with each sensitive word marked, footer.
      var phone = slot(panel, 'phone');
      while (phone.firstChild) { phone.removeChild(phone.firstChild); }
      var hdr = document.createElement('span');
      hdr.className = 'hdr';
      hdr.textContent = j.header;
      phone.appendChild(hdr);
      if (j.sensitive_policy === 'mask') {
        phone.appendChild(document.createTextNode(j.body));
      } else {
        var chars = Array.from(text);
        var at = 0;
        j.sensitive.forEach(function (m) {
          if (m.start < at || m.start >= m.end) { return; }
          phone.appendChild(document.createTextNode(chars.slice(at, m.start).join('')));
          var mark = document.createElement('mark');
          mark.textContent = chars.slice(m.start, m.end).join('');
          phone.appendChild(mark);
          at = m.end;
        });
        phone.appendChild(document.createTextNode(chars.slice(at).join('')));
      }
      var ftr = document.createElement('span');
      ftr.className = 'ftr';
      ftr.textContent = j.footer;
      phone.appendChild(ftr);
      panel.setAttribute('data-updated', String(seq));
    };
    var preview = function () {
      var group = form.elements.group.value;
      var text = form.elements.text.value;
      var body = { text: text };
      var as = form.elements.as;
      if (as && as.value.trim()) { body.as = as.value.trim(); }
      if (form.elements.urgent && form.elements.urgent.checked) { body.urgent = true; }
      var mine = ++seq;
      fetch('/v1/groups/' + encodeURIComponent(group) + '/broadcasts/preview', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
        body: JSON.stringify(body)
      }).then(function (r) {
        return r.json().then(function (j) { return { ok: r.ok, j: j }; });
      }).then(function (res) {
        if (mine === seq) { render(res.ok, res.j, text); }
      }).catch(function () { /* the form still previews on submit */ });
    };
    var soon = function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(preview, 200);
    };
    form.addEventListener('input', soon);
    form.addEventListener('change', soon);
    if (form.elements.text.value) { soon(); }
  }

  // ---- A broadcast followed live ----
  var follow = document.getElementById('follow');
  if (follow && window.EventSource && follow.getAttribute('data-live') === 'true') {
    var id = follow.getAttribute('data-broadcast');
    var count = function (k, v) {
      var el = follow.querySelector('[data-count="' + k + '"]');
      if (el) { el.textContent = String(v); }
    };
    var totals = function (s) {
      count('recipients', s.total);
      count('waiting', s.queued + s.sending);
      ['sent', 'delivered', 'undelivered', 'failed', 'uncertain', 'cancelled'].forEach(function (k) {
        count(k, s[k] || 0);
      });
      count('state', s.finished ? t('finished') : t('in_progress'));
    };
    var label = function (state) {
      return (state === 'queued' || state === 'sending') ? t('waiting') : t(state);
    };
    var es = new EventSource('/v1/broadcasts/' + encodeURIComponent(id) + '/events?reports=true');
    es.addEventListener('snapshot', function (e) { totals(JSON.parse(e.data).totals); });
    es.addEventListener('delivery', function (e) {
      var ev = JSON.parse(e.data);
      totals(ev.totals);
      var d = ev.delivery;
      var rows = document.querySelectorAll('#deliveries tr[data-number]');
      for (var i = 0; i < rows.length; i++) {
        if (rows[i].getAttribute('data-number') === d.number) {
          var cell = rows[i].querySelector('[data-state]');
          cell.setAttribute('data-state', d.state);
          cell.textContent = label(d.state);
          var modem = rows[i].querySelector('[data-modem]');
          if (modem && d.modem) { modem.textContent = d.modem; }
          var err = rows[i].querySelector('[data-error]');
          if (err) { err.textContent = d.error || ''; }
        }
      }
    });
    es.addEventListener('end', function (e) {
      totals(JSON.parse(e.data));
      follow.setAttribute('data-live', 'ended');
      es.close();
    });
    es.addEventListener('error', function (e) {
      // The daemon's own `error` event carries data; a dropped connection does not (the
      // browser then tries again by itself).
      if (e.data) { follow.setAttribute('data-live', 'error'); es.close(); }
    });
  }

  // ---- A CSV file read into the import form ----
  var file = document.getElementById('csv-file');
  var area = document.getElementById('csv');
  if (file && area && window.FileReader) {
    file.addEventListener('change', function () {
      if (!file.files || !file.files[0]) { return; }
      var reader = new FileReader();
      reader.onload = function () { area.value = String(reader.result); };
      reader.readAsText(file.files[0]);
    });
  }
})();
