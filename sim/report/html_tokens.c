// html_tokens.c — report.html's "Tokens by expert" section: the evaluation sequences of each
// variant's first run that wrote routes.json (eval.show_tokens), every token coloured by its top-1
// expert at the chosen layer; hovering a token shows its top-K experts and gates; one colour
// swatch per expert; a layer selector. Text-world tokens are bytes, shown as characters (printable
// ASCII) or escapes (\n, \t, \xNN); other worlds' tokens as their ids. routes.json is inlined as
// it is (our own JSON, '<' and '&' written as \u escapes), drawn by an inline script. The fragment
// #layer=L starts at layer L (#classroom: html_timeline.c).
#include <stdlib.h>
#include <string.h>
#include "report_internal.h"

static const char *TOK_SCRIPT =
    "(function(){\n"
    "if(/classroom/.test(location.hash))document.body.classList.add('focus');\n"
    "var runs=[].slice.call(document.querySelectorAll('script.routes')).map(function(s){"
    "return {label:s.dataset.label,d:JSON.parse(s.textContent)};});\n"
    "var sel=document.getElementById('tok-layer'),out=document.getElementById('tok-view'),leg=document.getElementById('tok-legend');\n"
    "var E=0,L=0;runs.forEach(function(r){E=Math.max(E,r.d.experts);L=Math.max(L,r.d.layers);});\n"
    "function colour(e){return 'hsl('+Math.round(e*360/Math.max(E,1))+',70%,'+(e%2?'70%':'84%')+')';}\n"
    "function text(t,bytes){if(!bytes)return String(t);if(t===10)return '\\\\n';if(t===9)return '\\\\t';"
    "if(t===32)return '\\u2423';if(t>32&&t<127)return String.fromCharCode(t);return '\\\\x'+(t<16?'0':'')+t.toString(16);}\n"
    "for(var l=0;l<L;l++){var o=document.createElement('option');o.value=l;o.textContent='layer '+l;sel.appendChild(o);}\n"
    "for(var e=0;e<E;e++){var s=document.createElement('span');s.className='tok';s.style.background=colour(e);"
    "s.textContent='expert '+e;leg.appendChild(s);}\n"
    "function draw(){\n"
    "  var l=+sel.value;out.textContent='';out.dataset.layer=l;\n"
    "  runs.forEach(function(r){\n"
    "    var h=document.createElement('h3');h.textContent=r.label;out.appendChild(h);\n"
    "    r.d.sequences.forEach(function(q){\n"
    "      var p=document.createElement('div');p.className='seq';\n"
    "      var n=document.createElement('span');n.className='meta';n.textContent='sequence '+q.index+(q.domain>=0?' (domain '+q.domain+')':'')+': ';p.appendChild(n);\n"
    "      var ll=Math.min(l,q.experts.length-1);\n"
    "      q.tokens.forEach(function(t,i){\n"
    "        var ex=q.experts[ll][i],g=q.gates[ll][i],s=document.createElement('span');\n"
    "        s.className='tok';s.style.background=colour(ex[0]);s.textContent=text(t,r.d.bytes);s.dataset.expert=ex[0];\n"
    "        s.title='token '+t+', position '+i+', layer '+ll+'\\n'+ex.map(function(e,k){return 'expert '+e+': gate '+g[k];}).join('\\n');\n"
    "        p.appendChild(s);\n"
    "      });\n"
    "      out.appendChild(p);\n"
    "    });\n"
    "  });\n"
    "}\n"
    "var m=/(?:^#|&)layer=(\\d+)/.exec(location.hash);sel.value=m&&+m[1]<L?m[1]:L-1;\n"
    "sel.onchange=draw;draw();\n"
    "})();\n";

// The section; nothing when no run wrote routes.json.
int html_tokens(FILE *f, Report *R) {
    int n = 0;
    for (int v = 0; v < R->nvars; v++) {
        const Variant *V = &R->vars[v];
        char *json = NULL;
        for (int i = 0; i < V->nused && !json; i++) {
            char run[IO_CHILD_PATH_MAX], p[IO_DEEP_PATH_MAX];
            if (path_join(run, sizeof run, R->dir, R->runs[V->used[i]].id) && path_join(p, sizeof p, run, "routes.json"))
                json = read_text_file(p);
        }
        if (!json) continue;
        if (n++ == 0)
            fputs("<section id=\"tokens\" class=\"classroom\">\n<h2>Tokens by expert</h2>\n<p>Evaluation sequences of each variant's first seed "
                  "(<code>routes.json</code>, written with <code>eval.show_tokens</code>), after training: each token "
                  "is coloured by the expert it ranks first at the chosen layer. Hover over a token for its top-K "
                  "experts and their gates.</p>\n<p><label>Layer <select id=\"tok-layer\"></select></label></p>\n"
                  "<p id=\"tok-legend\"></p>\n<div id=\"tok-view\"></div>\n", f);
        fputs("<script type=\"application/json\" class=\"routes\" data-label=\"", f);
        svg_escape(f, V->label);
        fputs("\">", f);
        // '<' and '&' occur only inside its strings, where \u003c and \u0026 say the same: no
        // "</script>", and the page stays well-formed XML
        for (const char *s = json; *s; s++) {
            if (*s == '<') fputs("\\u003c", f);
            else if (*s == '&') fputs("\\u0026", f);
            else fputc(*s, f);
        }
        fputs("</script>\n", f);
        free(json);
    }
    if (n) fprintf(f, "<script>//<![CDATA[\n%s//]]></script>\n</section>\n", TOK_SCRIPT);
    return 0;
}
