// The report page's one script: convenience only, every form works without it.
// Moves focus to the error summary so that screen readers announce it and keyboard users
// start from the list of links to the fields (GOV.UK error summary pattern); stops a second
// submit while the first is on its way.
(function () {
  var summary = document.querySelector('.error-summary');
  if (summary) summary.focus();
  var form = document.querySelector('form[method=post]');
  if (form) {
    form.addEventListener('submit', function (e) {
      if (form.getAttribute('data-sent')) e.preventDefault();
      form.setAttribute('data-sent', '1');
    });
  }
})();
