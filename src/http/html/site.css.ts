/**
 * The one stylesheet of the server-rendered pages (trust center, status page), served as a
 * static file so their CSP can say `style-src 'self'` with no 'unsafe-inline' and no hashes.
 * Colours meet WCAG 2.2 AA contrast (4.5:1 for text) in both light and dark schemes.
 */
export const SITE_CSS = `
:root{color-scheme:light dark;--fg:#1b1b1b;--muted:#4a4a4a;--bg:#ffffff;--panel:#f4f5f7;--line:#d0d4da;--link:#0b57d0;--focus:#0b57d0;
--ok-fg:#0a5d2c;--ok-bg:#dff3e6;--warn-fg:#6b4a00;--warn-bg:#fff1c7;--bad-fg:#8a1313;--bad-bg:#fde2e1;--none-fg:#3c4043;--none-bg:#e8eaed}
@media (prefers-color-scheme:dark){:root{--fg:#e8eaed;--muted:#bdc1c6;--bg:#15171a;--panel:#1f2226;--line:#3c4043;--link:#8ab4f8;--focus:#8ab4f8;
--ok-fg:#a8e6bd;--ok-bg:#173a24;--warn-fg:#fde293;--warn-bg:#3d3000;--bad-fg:#f6aea9;--bad-bg:#4a1512;--none-fg:#dadce0;--none-bg:#303236}}
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--link)}
a:focus-visible,button:focus-visible,input:focus-visible,[tabindex]:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip-link{position:absolute;left:.5rem;top:-3rem;padding:.5rem .75rem;background:var(--bg);color:var(--link);border:2px solid var(--focus);z-index:10}
.skip-link:focus{top:.5rem}
.site-header,.site-footer{border-color:var(--line);border-style:solid;border-width:0}
.site-header{border-bottom-width:1px;background:var(--panel)}
.site-footer{border-top-width:1px;color:var(--muted);font-size:.875rem;margin-top:3rem}
.wrap{max-width:60rem;margin:0 auto;padding:0 1rem}
.site-header .wrap{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.5rem;padding-top:.75rem;padding-bottom:.75rem}
.site-name{margin:0;font-weight:600}
.site-name a{color:inherit;text-decoration:none}
.site-header nav ul{display:flex;gap:1rem;list-style:none;margin:0;padding:0}
.site-header nav a[aria-current="page"]{font-weight:600;text-decoration-thickness:2px}
main{display:block;padding-top:1.5rem}
main:focus{outline:none}
h1{font-size:2rem;line-height:1.2;margin:0 0 .5rem}
h2{font-size:1.375rem;margin:2.25rem 0 .75rem;padding-bottom:.25rem;border-bottom:1px solid var(--line)}
h3{font-size:1.125rem;margin:1.5rem 0 .5rem}
.lede{color:var(--muted);font-size:1.125rem;margin-top:0}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.875em;overflow-wrap:anywhere}
.table-scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
caption{text-align:left;color:var(--muted);font-size:.875rem;padding-bottom:.25rem}
th,td{text-align:left;vertical-align:top;padding:.5rem .625rem;border-bottom:1px solid var(--line)}
thead th{background:var(--panel);font-weight:600}
dl.facts{display:grid;grid-template-columns:minmax(10rem,16rem) 1fr;gap:.375rem 1rem;margin:.5rem 0 1rem}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0}
@media (max-width:36rem){dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.5rem}}
.badge{display:inline-block;padding:.0625rem .5rem;border-radius:999px;font-size:.8125rem;font-weight:600;white-space:nowrap}
.badge-ok{color:var(--ok-fg);background:var(--ok-bg)}
.badge-warn{color:var(--warn-fg);background:var(--warn-bg)}
.badge-bad{color:var(--bad-fg);background:var(--bad-bg)}
.badge-none{color:var(--none-fg);background:var(--none-bg)}
.note{color:var(--muted);font-size:.9375rem}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:.5rem;padding:1rem;margin:1rem 0}
ul.plain{list-style:none;padding:0}
`;
