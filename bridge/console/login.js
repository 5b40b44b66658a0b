// The login page: posts the name and password as JSON (never in a URL), and on success goes to the console,
// which the session cookie now opens. Errors are the server's own sentences (wrong password, locked account).

const form = document.getElementById('login-form');
const error = document.getElementById('login-error');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.hidden = true;
  const body = JSON.stringify({
    name: document.getElementById('login-name').value,
    password: document.getElementById('login-password').value,
  });
  let response;
  try {
    response = await fetch('/admin/api/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      credentials: 'same-origin',
    });
  } catch {
    show('The bridge did not answer; is it running?');
    return;
  }
  if (response.ok) {
    location.assign('/admin');
  } else {
    show((await response.text()).trim() || `Refused (${response.status}).`);
  }
});

function show(text) {
  error.textContent = text;
  error.hidden = false;
}
