package demo

import "html/template"

var adminPage = template.Must(template.New("admin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sessionkit demo admin</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d2330; }
table { border-collapse: collapse; width: 100%; } td, th { padding: .4rem .6rem; border-bottom: 1px solid #e3e7ef; text-align: left; }
button { padding: .3rem .8rem; border: 0; border-radius: .3rem; background: #2b59c3; color: #fff; cursor: pointer; }
button.kill { background: #c33b2b; } .down { color: #c33b2b; font-weight: 600; } .up { color: #1e8a3c; font-weight: 600; }
form { display: inline; }
</style></head><body>
<h1>sessionkit demo: {{.Strategy}}</h1>
<p>Shop: <a href="{{.Router}}" target="_blank">{{.Router}}</a>. Log in there, fill the cart, then kill the node that served you and reload.</p>
<table><tr><th>node</th><th>state</th><th>pid</th><th></th></tr>
{{range .Nodes}}<tr><td>{{.Name}}</td>
<td>{{if .Alive}}<span class="up">up</span>{{else}}<span class="down">down</span>{{end}}</td><td>{{if .Alive}}{{.Pid}}{{end}}</td>
<td>{{if .Alive}}<form method="post" action="/nodes/{{.Name}}/kill"><input type="hidden" name="token" value="{{$.Token}}"><button class="kill">kill (SIGKILL)</button></form>
{{else}}<form method="post" action="/nodes/{{.Name}}/restart"><input type="hidden" name="token" value="{{$.Token}}"><button>restart</button></form>{{end}}</td></tr>
{{end}}</table>
<p><form method="post" action="/nodes"><input type="hidden" name="token" value="{{.Token}}"><button>add a node</button></form></p>
</body></html>
`))
