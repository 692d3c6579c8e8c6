/**
 * The dashboard's only stylesheet and only script. The Content-Security-Policy allows exactly
 * these texts, by hash (./render.ts), and nothing loaded from anywhere else.
 */

/** The stylesheet: colours come with a glyph and words, never alone. */
export const DASHBOARD_CSS = `
:root{color-scheme:light;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--red:#b3261e;--red-bg:#fdecea;--green:#1a7f37;--blue:#0969da;--amber:#9a6700;--teal:#0b7285;--grey:#6e7781}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
.skip{position:absolute;left:-999px}.skip:focus{left:.5rem;top:.5rem;background:#fff;padding:.25rem .5rem;z-index:2}
.top{display:flex;gap:1rem;align-items:center;flex-wrap:wrap;padding:.5rem 1rem;background:#fff;border-bottom:1px solid var(--line)}
.top nav a{margin-left:.75rem}.top nav a[aria-current]{font-weight:700;color:var(--fg)}
.src{color:var(--muted);font-size:.85rem}
.live{margin-left:auto;font-size:.85rem;color:var(--muted)}.live.on{color:var(--green)}.live.off{color:var(--red)}
main{max-width:80rem;margin:0 auto;padding:1rem 1rem 3rem}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.15rem;margin:0 0 .5rem}h3{font-size:1rem;margin:.75rem 0 .35rem}h4{font-size:.9rem;margin:.5rem 0 .25rem}
a{color:var(--blue)}a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible,.detail:focus-visible{outline:3px solid var(--blue);outline-offset:2px}
.card,.stage,.detail{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.75rem 1rem;margin:0 0 1rem}
.detail{border-color:var(--blue)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1.25rem;margin:0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
code,.mono{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.msg{white-space:pre-wrap}
.small{font-size:.85rem;color:var(--muted);font-weight:400}
.note{color:var(--muted);font-style:italic}
.danger{color:var(--red);font-weight:700}
table.list{width:100%;border-collapse:collapse;margin:.25rem 0 .5rem;background:#fff}
caption{text-align:left;caption-side:top;padding:0 0 .25rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:.85rem}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.b{display:inline-block;padding:0 .45rem;border-radius:1rem;font-size:.8rem;font-weight:600;border:1px solid currentColor;white-space:nowrap;vertical-align:middle}
.t-ok{color:var(--green)}.t-bad{color:var(--red)}.t-run{color:var(--blue)}.t-wait{color:var(--amber)}.t-planned{color:var(--teal)}.t-idle{color:var(--grey)}.t-skip{color:var(--grey)}
.legend,.waves{display:flex;flex-wrap:wrap;gap:.4rem 1rem;list-style:none;padding:0;margin:.35rem 0}
.appr{border-left:4px solid var(--amber);padding:.1rem .75rem;margin:.5rem 0}.appr h3{margin-top:.25rem}
.dec{margin:.25rem 0;padding-left:1.25rem}
.fails{border-left:4px solid var(--red);background:var(--red-bg);padding:.1rem .75rem;margin:.5rem 0}.fails ul{margin:.25rem 0;padding-left:1.25rem}
.fail{border-left:4px solid var(--red);background:var(--red-bg);padding:.5rem .75rem;margin:.5rem 0;border-radius:4px}
.err{color:var(--red);font-size:.85rem}
h3.wave{font-size:.9rem;color:var(--muted)}
.grid{margin:.25rem 0 .5rem}.blk{display:flex;flex-wrap:wrap;gap:2px;margin:0 0 6px;content-visibility:auto;contain-intrinsic-size:auto 40px}
.c{display:block;width:18px;height:18px;line-height:16px;font-size:11px;text-align:center;text-decoration:none;border:1px solid currentColor;border-radius:3px;background:#fff;font-weight:700}
.c.t-ok{background:#dafbe1}.c.t-bad{background:var(--red);color:#fff;border-color:var(--red)}.c.t-run{background:#ddf4ff}.c.t-wait{background:#fff8c5}.c.t-planned{background:#e3fafc}
.c:hover{outline:2px solid var(--fg)}.c[hidden]{display:none}
.stage{content-visibility:auto;contain-intrinsic-size:auto 40rem}
.filter{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.5rem 0 1rem}
input,select,button{font:inherit;padding:.25rem .5rem;border:1px solid var(--line);border-radius:6px;background:#fff}
button{cursor:pointer;font-weight:600}
pre.log{background:#0d1117;color:#e6edf3;padding:.5rem .75rem;border-radius:6px;overflow:auto;max-height:24rem;font-size:.8rem;white-space:pre-wrap}
.banner{padding:.75rem 1rem;border-radius:8px;border:1px solid var(--line);background:#fff}.banner.bad{border-color:var(--red);color:var(--red);background:var(--red-bg)}
details summary{cursor:pointer;font-size:.85rem;color:var(--red)}details ul{margin:.25rem 0;padding-left:1.25rem;font-size:.85rem}
`;

/**
 * The script: the live feed (server-sent events; on every connection the server sends the whole
 * state, so a page that missed events while away is correct again), the grid filter, and the
 * account panel. Everything it writes into the page comes from the server, escaped there.
 */
export const DASHBOARD_SCRIPT = `(function(){
var d=document,b=d.body,main=d.getElementById('main'),live=d.getElementById('live'),panel=d.getElementById('detail'),form=d.getElementById('filter');
function setLive(t,c){if(live){live.textContent=t;live.className='live '+c;}}
function lab(c){return c.getAttribute('aria-label')||'';}
function nm(c){var l=lab(c);return l.slice(0,l.lastIndexOf(': '));}
function st(c){var l=lab(c);return l.slice(l.lastIndexOf(': ')+2);}
function tn(c){return c.className.slice(4);}
function filter(){
  if(!form)return;
  var q=form.elements.q.value.trim().toLowerCase(),t=form.elements.tone.value,cells=d.querySelectorAll('.c'),n=0;
  for(var i=0;i<cells.length;i++){var c=cells[i],ok=(!q||nm(c).toLowerCase().indexOf(q)>=0)&&(!t||tn(c)===t);if(c.hidden===ok)c.hidden=!ok;if(ok)n++;}
  var s=d.getElementById('shown');if(s)s.textContent=(q||t)?'showing '+n+' of '+cells.length+' accounts':'';
}
function query(){var p=[];if(form){var q=form.elements.q.value.trim(),t=form.elements.tone.value;if(q)p.push('q='+encodeURIComponent(q));if(t)p.push('tone='+encodeURIComponent(t));}return p.length?'?'+p.join('&'):'';}
if(form){
  form.addEventListener('input',function(){filter();history.replaceState(null,'',location.pathname+query());});
  form.addEventListener('submit',function(e){e.preventDefault();filter();history.replaceState(null,'',location.pathname+query());});
  // The server already hid what the address filters out; only the count is missing.
  if(location.search)filter();
}
// The grid is one Tab stop: the first time focus enters a grid, its other squares leave the Tab
// order (tabindex -1), and the arrow keys, Home and End move between the squares shown.
function shown(g){var all=g.querySelectorAll('.c'),out=[];for(var i=0;i<all.length;i++)if(!all[i].hidden)out.push(all[i]);return out;}
function rove(g,c){if(!g.hasAttribute('data-rove')){var all=g.querySelectorAll('.c');for(var i=0;i<all.length;i++)all[i].tabIndex=-1;g.setAttribute('data-rove','1');}c.tabIndex=0;}
if(main){
  main.addEventListener('focusin',function(e){var c=e.target;if(c.classList&&c.classList.contains('c'))rove(c.closest('.grid'),c);});
  main.addEventListener('keydown',function(e){
    var c=e.target;if(!c.classList||!c.classList.contains('c'))return;
    var g=c.closest('.grid'),cells=shown(g),i=cells.indexOf(c),j=-1;if(i<0)return;
    if(e.key==='ArrowRight')j=i+1;else if(e.key==='ArrowLeft')j=i-1;else if(e.key==='Home')j=0;else if(e.key==='End')j=cells.length-1;
    else if(e.key==='ArrowDown'||e.key==='ArrowUp'){
      var step=e.key==='ArrowDown'?1:-1,x=c.getBoundingClientRect().left,y=c.getBoundingClientRect().top;
      for(var k=i+step;k>=0&&k<cells.length;k+=step){var r=cells[k].getBoundingClientRect();if(r.top!==y&&Math.abs(r.left-x)<2){j=k;break;}if(step*(r.top-y)>30){j=k;break;}}
    }else return;
    e.preventDefault();if(j<0||j>=cells.length)return;
    c.tabIndex=-1;cells[j].tabIndex=0;cells[j].focus();
  });
}
var info=d.getElementById('cell');
function tell(e){var c=e.target;if(info&&c.classList&&c.classList.contains('c'))info.textContent=lab(c);}
if(main){main.addEventListener('mouseover',tell);main.addEventListener('focusin',tell);}
var open=panel&&!panel.hidden?decodeURIComponent((location.pathname.split('/account/')[1]||'')):'';
function show(href,name,focus){
  var x=new XMLHttpRequest();x.open('GET',href+'?fragment=1');
  x.onload=function(){if(x.status!==200)return;panel.innerHTML=x.responseText;panel.hidden=false;open=name;if(focus)panel.focus();};
  x.send();
}
if(panel&&main){
  main.addEventListener('click',function(e){
    var a=e.target.closest?e.target.closest('a'):null;if(!a||e.ctrlKey||e.metaKey||e.shiftKey)return;
    if(a.getAttribute('data-close')){e.preventDefault();panel.hidden=true;panel.innerHTML='';open='';history.pushState(null,'',a.getAttribute('href')+query());return;}
    var name=a.classList.contains('c')?nm(a):a.getAttribute('data-account');if(!name)return;
    e.preventDefault();history.pushState(null,'',a.getAttribute('href')+query());show(a.getAttribute('href'),name,true);
  });
  window.addEventListener('popstate',function(){var name=decodeURIComponent(location.pathname.split('/account/')[1]||'');if(name)show(location.pathname,name,false);else{panel.hidden=true;open='';}});
  d.addEventListener('keydown',function(e){if(e.key==='Escape'&&open){var c=panel.querySelector('a[data-close]');if(c)c.click();}});
}
function apply(m){
  var id,el,changed=false;
  for(id in m.fragments){el=d.getElementById(id);if(el&&el.innerHTML!==m.fragments[id])el.innerHTML=m.fragments[id];}
  for(id in m.cells){
    el=d.getElementById(id);var v=m.cells[id];if(!el||(st(el)===v[2]&&tn(el)===v[0]))continue;
    var n=nm(el);el.className='c t-'+v[0];el.textContent=v[1];el.setAttribute('aria-label',n+': '+v[2]);
    if(n===open)changed=true;
  }
  if(form&&(form.elements.q.value||form.elements.tone.value))filter();
  if(changed&&panel&&!panel.hidden)show(location.pathname,open,false);
}
var src=b.getAttribute('data-events');
if(src&&window.EventSource){
  setLive('Connecting…','');
  var es=new EventSource(src);
  es.addEventListener('open',function(){setLive('● Live','on');});
  es.addEventListener('error',function(){setLive('○ Reconnecting…','off');});
  es.addEventListener('snapshot',function(e){var m=JSON.parse(e.data);if(m.structure!==b.getAttribute('data-structure')){location.reload();return;}apply(m);b.setAttribute('data-live','1');});
  es.addEventListener('patch',function(e){apply(JSON.parse(e.data));});
  es.addEventListener('reload',function(){location.reload();});
  es.addEventListener('problem',function(e){setLive('⚠ '+JSON.parse(e.data).message,'off');});
}
requestAnimationFrame(function(){b.setAttribute('data-ready',String(Math.round(performance.now())));});
})();`;
