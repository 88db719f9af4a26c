const express = require('express');
const _ = require('lodash');

const app = express();
app.get('/:name', (req, res) => res.send(`hello, ${_.escape(req.params.name)}`));
app.listen(process.env.PORT || 3000);
