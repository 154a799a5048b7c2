import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
// Stylesheets first, in cascade order (later files refine earlier ones), before any
// component module pulls one in.
import './styles.css';
import './styles-more.css';
import './polish.css';
import { App } from './App';
import { client } from './api/client';
import { listLoops } from './components/loopList';

// Made before the first render: in the browser it takes ?token= out of the address bar
// at once (api/client.ts serveToken).
client();
// The sidebar's loop list is on every screen: asked for now, not after the first render.
listLoops().catch(() => {}); // the sidebar shows a failure when it takes the list

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
